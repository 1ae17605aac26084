//go:build unix

package main

import (
	"fmt"
	"syscall"
)

// fdMargin is the descriptors a run needs besides its connections: the
// standard streams, the runtime's poller, DNS, a socket or two of setup.
const fdMargin = 64

// ensureConns makes sure this process may keep conns connections open at
// once, raising its soft RLIMIT_NOFILE to the hard limit if it must (Go's
// runtime does so at start on Linux, but not everywhere, and the hard limit
// may be lower than a storm of thousands needs). It fails, naming the limit,
// when even the hard limit is too low: a run that ran out of descriptors
// would report seatd's failures where there are only the generator's.
func ensureConns(conns int) error {
	need := uint64(conns + fdMargin)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // nothing to go by: let the run try
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max > lim.Cur {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
			lim = raised
		}
	}
	if lim.Cur < need {
		return fmt.Errorf("%d connections need about %d open files, and this process may open only %d (ulimit -n; hard limit %d): "+
			"raise it (ulimit -n %d, or LimitNOFILE= for a service) or use fewer connections", conns, need, lim.Cur, lim.Max, need)
	}
	return nil
}
