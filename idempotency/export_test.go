package idempotency

// MarkerID lets the tests mark a key in the markers as another attempt would.
var MarkerID = markerID
