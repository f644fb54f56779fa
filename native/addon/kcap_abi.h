// What the addon shares with the BPF programs and the TypeScript side, from the headers that
// scripts/gen-schema.ts generates from formats/: the record header's size and offsets, the
// largest record, the layout of a drained batch's summary.
#pragma once

#include <linux/types.h>

// The generated headers check their layouts with C11's _Static_assert, which C++ spells static_assert.
#define _Static_assert static_assert
#include "../bpf/kcap_config.h"
#include "../bpf/kcap_events.h"
#undef _Static_assert
