# ULP (FSM) program: counts debounced closings of a reed switch on GPIO4 (RTC_GPIO10, touch pad 0).
# Runs every ULP timer period (set by ulp.py, default 5 ms) whether the CPUs run or sleep; each run
# samples the pin once. A level counts only after `debounce` samples in a row agree, so contact
# bounce (<2 ms) and glitches are ignored; a closing or opening shorter than debounce x period
# (15 ms by default) is missed, which limits the counting rate to about 30 pulses a second.
# The CPU reads `count` (low 16 bits, it wraps) and must do so before 32768 closings pass.
# Every `per_min` runs (one minute of ULP periods) the count goes into the next of 64 slots of
# `ring`: minute totals while the CPUs sleep (battery mode); the CPU aligns `ticks` to the minute.

    .set RTC_GPIO_IN_REG, 0x3ff48424     # RTC_GPIO_IN_NEXT in bits 14..31
    .set RTC_IO_TOUCH_PAD0_REG, 0x3ff48494
    .set PIN_BIT, 24                     # 14 + RTC_GPIO10

    .global magic
    .global count
    .global state
    .global run
    .global debounce
    .global active
    .global taken
    .global ticks
    .global per_min
    .global idx
    .global ring
    .global cpu_idx
    .global cpu_ts
    .data
magic:    .long 21580                    # 0x544c: the CPU knows the program is loaded and running
count:    .long 0                        # debounced closings (16 bits)
state:    .long 1                        # debounced level
run:      .long 0                        # samples in a row that differ from state
debounce: .long 3                        # samples a new level must hold (the CPU may change it)
active:   .long 0                        # the level of a closed contact (0: switch to GND, pull-up)
ready:    .long 0                        # 1 once the pad has been set up
taken:    .long 0                        # the CPU's own: count when it last took pulses (kept in deep sleep)
ticks:    .long 0                        # runs since the last minute slot
per_min:  .long 0                        # runs per minute (0: no minute slots)
idx:      .long 0                        # next slot of ring
cpu_idx:  .long 0                        # the CPU's own: next slot it has not read yet
cpu_ts:   .long 0                        # the CPU's own: unix time of the minute that slot holds
ring:     .skip 256                      # 64 minute slots: the count at each minute

    .text
    .global entry
entry:
    move r3, ready
    ld r0, r3, 0
    jumpr sample, 1, ge
    # once: route the pad to the RTC domain, input enabled, pull-up on
    reg_wr RTC_IO_TOUCH_PAD0_REG, 19, 19, 1
    reg_wr RTC_IO_TOUCH_PAD0_REG, 13, 13, 1
    reg_wr RTC_IO_TOUCH_PAD0_REG, 27, 27, 1
    move r0, 1
    st r0, r3, 0
sample:
    reg_rd RTC_GPIO_IN_REG, PIN_BIT, PIN_BIT
    move r3, state
    ld r1, r3, 0
    sub r2, r0, r1
    jump same, eq
    move r3, run
    ld r2, r3, 0
    add r2, r2, 1
    st r2, r3, 0
    move r3, debounce
    ld r1, r3, 0
    sub r1, r2, r1
    jump done, ov                        # fewer than debounce samples so far
    move r3, state
    st r0, r3, 0
    move r3, run
    move r2, 0
    st r2, r3, 0
    move r3, active
    ld r1, r3, 0
    sub r1, r0, r1
    jump closed, eq                      # the new level is the closed one: a pulse
    jump tick
closed:
    move r3, count
    ld r2, r3, 0
    add r2, r2, 1
    st r2, r3, 0
    jump tick
same:
    move r3, run
    move r2, 0
    st r2, r3, 0
done:
tick:
    move r3, per_min
    ld r1, r3, 0
    move r0, r1
    jump out, eq                         # per_min 0: no minute slots
    move r3, ticks
    ld r0, r3, 0
    add r0, r0, 1
    st r0, r3, 0
    sub r1, r0, r1
    jump out, ov                         # not a minute yet
    move r0, 0
    st r0, r3, 0
    move r3, idx
    ld r1, r3, 0
    move r3, count
    ld r2, r3, 0
    move r3, ring
    add r3, r3, r1
    st r2, r3, 0
    add r1, r1, 1
    and r1, r1, 63
    move r3, idx
    st r1, r3, 0
out:
    halt
