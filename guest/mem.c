/* SPDX-License-Identifier: MIT */
/*
 * Driver memory: a bump allocator after the image, and MMIO mappings above
 * 4 GiB (firmware may put 64-bit BARs there; start.S maps only the first
 * 4 GiB). Page-table pages are filled in ring 3 while nothing points at
 * them; ring 0 only links a finished one in (sys_set_pte), so the ring-0
 * cost is one syscall per GiB mapped.
 */
#include "mem.h"

#define PAGE_SIZE    4096UL
#define GIB_SHIFT    30
#define PTE_P	     0x01UL
#define PTE_W	     0x02UL
#define PTE_U	     0x04UL
#define PTE_PWT	     0x08UL
#define PTE_PCD	     0x10UL
#define PTE_PS	     0x80UL
#define PTE_TABLE    (PTE_P | PTE_W | PTE_U)
#define PDE_MMIO     (PTE_TABLE | PTE_PS | PTE_PCD | PTE_PWT)
#define PTE_ADDR     0x000ffffffffff000UL
#define IDENTITY_END (1ULL << 32) /* what start.S maps */

extern char _end[];	/* guest.ld: end of the image's bss */
extern uint64_t pml4[]; /* start.S */

static uintptr_t heap_next, heap_end;

static uintptr_t align_up(uintptr_t v, size_t a)
{
	return (v + a - 1) & ~(uintptr_t)(a - 1);
}

/* The heap is the rest of the memory-map RAM entry holding the image's end,
 * clipped to the identity-mapped 4 GiB. */
static bool heap_init(void)
{
	const struct hvm_memmap_entry *map;
	unsigned n = memmap(&map);
	uintptr_t start = align_up((uintptr_t)_end, PAGE_SIZE);

	for (unsigned i = 0; i < n; i++) {
		uint64_t end = map[i].addr + map[i].size;

		if (map[i].type != 1 || start < map[i].addr || start >= end)
			continue;
		heap_next = start;
		heap_end = end < IDENTITY_END ? end : IDENTITY_END;
		return true;
	}
	printf("mem: no RAM after the image in the memory map (%u "
	       "entries)\n",
	       n);
	return false;
}

void *dma_alloc(size_t size, size_t align)
{
	uintptr_t p;

	if (!heap_next && !heap_init())
		return NULL;
	p = align_up(heap_next, align ? align : 1);
	if (p > heap_end || size > heap_end - p) {
		printf("mem: out of memory (%zu bytes asked, %zu left)\n", size,
		       dma_avail());
		return NULL;
	}
	heap_next = p + size;
	memset((void *)p, 0, size);
	return (void *)p;
}

size_t dma_avail(void)
{
	if (!heap_next && !heap_init())
		return 0;
	return heap_end - heap_next;
}

/* CPUID 0x80000008: physical address bits (36 if the leaf is missing). */
static unsigned phys_bits(void)
{
	uint32_t r[4];

	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, r);
	return r[0] & 0xff;
}

/* The table an entry points to, made (empty) and linked in if missing. */
static uint64_t *table_of(uint64_t *entry)
{
	uint64_t *t;

	if (*entry & PTE_P)
		return phys(*entry & PTE_ADDR);
	t = dma_alloc(PAGE_SIZE, PAGE_SIZE);
	if (t)
		sys_set_pte(entry, virt_to_phys(t) | PTE_TABLE);
	return t;
}

/* Identity-map GiB number g uncached with 2 MiB pages, unless mapped. */
static bool map_gib(uint64_t g)
{
	uint64_t *pdpt = table_of(&pml4[g >> 9]), *pd;

	if (!pdpt)
		return false;
	if (pdpt[g & 511] & PTE_P)
		return true;
	pd = dma_alloc(PAGE_SIZE, PAGE_SIZE);
	if (!pd)
		return false;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (g << GIB_SHIFT | i << 21) | PDE_MMIO;
	sys_set_pte(&pdpt[g & 511], virt_to_phys(pd) | PTE_TABLE);
	return true;
}

volatile void *mmio_map(uint64_t pa, uint64_t size)
{
	uint64_t last = pa + (size ? size : 1) - 1;
	unsigned bits = phys_bits();

	if (last < IDENTITY_END)
		return phys(pa);
	/* Identity mapping: the address must also be a canonical lower-half
	 * virtual address. */
	if (last < pa || last >> bits || last >> 47) {
		printf("mem: cannot map MMIO at 0x%lx+0x%lx (%u-bit physical "
		       "addresses)\n",
		       pa, size, bits);
		return NULL;
	}
	for (uint64_t g = pa >> GIB_SHIFT; g <= last >> GIB_SHIFT; g++)
		if (!map_gib(g))
			return NULL;
	return phys(pa);
}
