// Upper bounds (seconds) of the filter duration histogram's buckets; a last, implicit one is +Inf. Finer
// at the low end than the request histogram: a filter decision is micro- to milliseconds.
export const filterDurationBuckets: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
