package restorer

import (
	"os"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/internal/linux"
)

// build makes crlazy's copy of a description that is not reopened by path
// inside the process (see treeFiles).
func (tf *treeFiles) build(f *fdinfo.FileEntry) (*os.File, error) {
	switch f.GetType() {
	case fdinfo.FdTypes_PIPE:
		return tf.pipeEnd(f)
	case fdinfo.FdTypes_FIFO:
		return tf.fifoEnd(f)
	case fdinfo.FdTypes_EVENTFD:
		return buildEventfd(f)
	case fdinfo.FdTypes_SIGNALFD:
		return finish(linux.SignalfdCreate(f.GetSgfd().GetSigmask()))(f.GetSgfd().GetFlags())
	case fdinfo.FdTypes_TIMERFD:
		return buildTimerfd(f)
	case fdinfo.FdTypes_INOTIFY:
		return buildInotify(f)
	case fdinfo.FdTypes_PIDFD:
		p := f.GetPidfd()
		return finish(linux.PidfdOpenFlags(int(p.GetNspid()), int(p.GetFlags())&linux.PidfdThread))(p.GetFlags())
	}
	return nil, badImage("descriptors of type %v are not built by crlazy", f.GetType())
}

// setStatus gives a description the dumped O_NONBLOCK (the only status
// flag these kinds use; files are created blocking, see internal/linux).
func setStatus(f *os.File, flags uint32) error {
	return linux.SetStatusFlags(f, int(flags)&linux.ONonblock)
}

// finish returns a function that sets the status flags of a file just
// created (closing it on error).
func finish(f *os.File, err error) func(flags uint32) (*os.File, error) {
	return func(flags uint32) (*os.File, error) {
		if err != nil {
			return nil, err
		}
		if err := setStatus(f, flags); err != nil {
			f.Close()
			return nil, err
		}
		return f, nil
	}
}

// buildEventfd: Flags hold the status flags and EFD_SEMAPHORE (see the
// dumper).
func buildEventfd(f *fdinfo.FileEntry) (*os.File, error) {
	e := f.GetEfd()
	sem := e.GetFlags()&linux.EfdSemaphore != 0
	return finish(linux.EventfdCreate(e.GetCounter(), sem))(e.GetFlags() &^ linux.EfdSemaphore)
}

// buildTimerfd arms a timerfd as dumped: for the time that was left, or
// at the absolute expiry (TFD_TIMER_ABSTIME), then sets the expirations
// not yet read (settime resets them).
func buildTimerfd(f *fdinfo.FileEntry) (*os.File, error) {
	e := f.GetTfd()
	tfd, err := linux.TimerfdCreate(int(e.GetClockid()))
	if err != nil {
		return nil, err
	}
	spec := linux.Itimerspec{
		ValueSec: int64(e.GetVsec()), ValueNsec: int64(e.GetVnsec()),
		IntervalSec: int64(e.GetIsec()), IntervalNsec: int64(e.GetInsec()),
	}
	flags := int(e.GetSettimeFlags())
	if spec.ValueSec == 0 && spec.ValueNsec == 0 && (spec.IntervalSec != 0 || spec.IntervalNsec != 0) {
		spec.ValueNsec = 1 // armed, due at the dump: fdinfo showed no time left
	}
	err = linux.TimerfdSettime(tfd, flags, spec)
	if err == nil && e.GetTicks() != 0 {
		err = linux.TimerfdSetTicks(tfd, e.GetTicks())
	}
	if err != nil {
		tfd.Close()
		return nil, err
	}
	return finish(tfd, nil)(e.GetFlags())
}
