// Values of a sandbox's cancel flag (an Int32Array on shared memory that the guest's interrupt
// checks read): the client hung up, or the host's deadline timer fired. The timer may fire a
// millisecond before the guest's own clock says the deadline passed (timers round), so the flag
// itself says which it was: a timeout must answer 504, not 499.
export const FLAG_CANCELLED = 1
export const FLAG_DEADLINE = 2
