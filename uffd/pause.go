package uffd

import "time"

// maxPrefetchPause bounds how long the prefetch waits, before each chunk,
// for the demand faults in progress to be answered: demand goes first,
// but a steady stream of faults cannot starve the prefetch.
const maxPrefetchPause = time.Millisecond
