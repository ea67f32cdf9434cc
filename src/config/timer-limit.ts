// Node's timers hold a signed 32-bit millisecond count: a delay above
// 2^31-1 ms (24.8 days) is clamped to 1 ms with a TimeoutOverflowWarning
// (Node's lib/internal/timers.js), so an unchecked huge delay fires at once.
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The largest --timeout, in whole seconds, that a timer can honour. */
export const MAX_TIMEOUT_SECONDS = Math.floor(MAX_TIMER_MS / 1000);
