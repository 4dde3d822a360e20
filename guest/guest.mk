# Test guests: freestanding PVH ELF images, see guest/README.md.
# Included by the top-level Makefile; on its own:
#   make -f guest/guest.mk BUILD=build guests

BUILD	 ?= build
GUEST_CC ?= gcc

GUEST_NAMES := hello exitcode smp fault demo virtio_blk virtio_rng \
	virtio_console blkbench virtio_net netbench burn steal idle
GUEST_KIT   := start rt cpus ring0 pci mem irq virtio virtq vblk vrng vcons \
	vnet net
GUEST_ELFS  := $(GUEST_NAMES:%=$(BUILD)/guest/%.elf)
GUEST_KIT_OBJS := $(GUEST_KIT:%=$(BUILD)/guest/%.o)

# Freestanding, no SSE (CR4.OSFXSR stays off), no red zone (ring-0 code),
# nothing that needs a runtime: no stack protector, unwind tables or CET.
GUEST_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iguest \
	-ffreestanding -fno-pic -fno-pie -mcmodel=small -mno-red-zone \
	-mgeneral-regs-only -fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
	-ffunction-sections -fdata-sections -MMD -MP
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,-T,guest/guest.ld \
	-Wl,--gc-sections -Wl,--build-id=none -Wl,-z,max-page-size=4096 \
	-Wl,-z,noexecstack

guests: $(GUEST_ELFS)

$(BUILD)/guest/%.elf: $(BUILD)/guest/%.o $(GUEST_KIT_OBJS) guest/guest.ld
	$(GUEST_CC) $(GUEST_CFLAGS) $(GUEST_LDFLAGS) -o $@ \
		$(filter %.o,$^)

# More specific than the top-level $(BUILD)/%.o rule, so these win.
$(BUILD)/guest/%.o: guest/%.c guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/guest/%.o: guest/%.S guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c -o $@ $<

.SECONDARY: $(GUEST_NAMES:%=$(BUILD)/guest/%.o) $(GUEST_KIT_OBJS)
.PHONY: guests
-include $(wildcard $(BUILD)/guest/*.d)
