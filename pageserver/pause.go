package pageserver

import "time"

// maxBulkPause bounds how long a bulk stream waits, before each chunk,
// for demand requests in flight to be answered: demand goes first, but a
// steady stream of faults cannot starve a prefetch.
const maxBulkPause = time.Millisecond
