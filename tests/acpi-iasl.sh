#!/usr/bin/env bash
# Check berth's ACPI tables with ACPICA, the reference implementation Linux
# uses: iasl must disassemble each table without errors, the DSDT must
# round-trip to the same AML, and acpiexec must load it and decode PCI0's
# resources.   tests/acpi-iasl.sh [BUILD_DIR]
set -u
build=${1:-build}
passed=0 failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }

if ! command -v iasl >/dev/null || ! command -v acpiexec >/dev/null; then
	echo "skip - ACPI tables: iasl and acpiexec are needed (apt-get install acpica-tools)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
make --no-print-directory -s "$build/tests/acpi_dump" || exit 1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT

for t in DSDT FACP APIC MCFG; do
	if "$build/tests/acpi_dump" "$t" >"$d/$t.dat" 2>/dev/null &&
		(cd "$d" && iasl -d "$t.dat") >"$d/$t.log" 2>&1 &&
		! grep -qi "error" "$d/$t.log"; then
		ok "iasl disassembles berth's $t"
	else
		not_ok "iasl $t" "$(tail -5 "$d/$t.log" | tr '\n' '|')"
	fi
done

if grep -q 'Device (PCI0)' "$d/DSDT.dsl" && grep -q 'EisaId ("PNP0A08")' "$d/DSDT.dsl" &&
	grep -q 'Device (MBRD)' "$d/DSDT.dsl" && grep -q 'Name (_S5' "$d/DSDT.dsl"; then
	ok "the DSDT declares PCI0, MBRD and _S5"
else
	not_ok "DSDT objects" "$(grep -E 'Device|Name' "$d/DSDT.dsl" | tr '\n' '|')"
fi
cp "$d/DSDT.dsl" "$d/rt.dsl"
if (cd "$d" && iasl -oa rt.dsl) >/dev/null 2>&1 &&
	cmp -s <(tail -c +37 "$d/DSDT.dat") <(tail -c +37 "$d/rt.aml"); then
	ok "the DSDT recompiles to the same AML"
else
	not_ok "DSDT round trip" "iasl -oa gives different AML"
fi
if acpiexec -b 'resources \_SB.PCI0' "$d/DSDT.dat" 2>&1 | grep -q 'Address Minimum : C0000000'; then
	ok "acpiexec loads the DSDT and decodes PCI0's memory window"
else
	not_ok "acpiexec" "PCI0 _CRS did not decode"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
