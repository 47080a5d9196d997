package restorer

import (
	"fmt"
	"os"

	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/crlazy/crlazy/images"
	"github.com/crlazy/crlazy/internal/linux"
	"github.com/crlazy/crlazy/netlock"
	"github.com/crlazy/crlazy/store"
	"github.com/crlazy/crlazy/tcprepair"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// loadConnection reads a connection's tcp_stream_entry and queues.
func loadConnection(r *store.Reader, s *inetSpec) (*tcprepair.State, error) {
	stream := &tcpstream.TcpStreamEntry{}
	if err := r.Record(images.TCPStream, s.id, stream); err != nil {
		return nil, err
	}
	recvLen, sendLen, err := tcprepair.QueueLens(stream)
	if err != nil {
		return nil, err
	}
	st := &tcprepair.State{Family: int(s.isk.GetFamily()), Local: s.local, Remote: s.remote,
		TCPState: uint8(s.isk.GetState()), RecvQueue: make([]byte, 0, recvLen), SendQueue: make([]byte, 0, sendLen)}
	err = r.SubRecords(images.TCPQueue, s.id, func(sub uint64, raw []byte) error {
		var piece wrapperspb.BytesValue
		if err := images.UnmarshalRecord(raw, &piece); err != nil {
			return err
		}
		q, off := sub>>32, sub&0xffffffff
		dst, limit := &st.RecvQueue, recvLen
		if q == images.TCPQueueSend {
			dst, limit = &st.SendQueue, sendLen
		} else if q != images.TCPQueueRecv {
			return badImage("TCP queue %d", q)
		}
		if off != uint64(len(*dst)) || len(*dst)+len(piece.Value) > limit {
			return badImage("TCP queue %d: %d bytes at offset %d, after %d of %d", q, len(piece.Value), off, len(*dst), limit)
		}
		*dst = append(*dst, piece.Value...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := st.FromEntry(stream); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadImage, err)
	}
	return st, nil
}

// build creates the socket: a connection through tcprepair; any other
// with its options, bound, connected (UDP) or listening.
func (s *inetSpec) build() (*os.File, error) {
	if s.conn != nil {
		return s.buildConn()
	}
	isk := s.isk
	f, err := linux.NewSocket(int(isk.GetFamily()), int(isk.GetType()), int(isk.GetProto()))
	if err != nil {
		return nil, err
	}
	if err := s.setup(f, true); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// setup applies the options, binds, connects and listens.
func (s *inetSpec) setup(f *os.File, reuse bool) error {
	isk := s.isk
	fam := int(isk.GetFamily())
	if err := applySockOpts(f, isk, reuse); err != nil {
		return err
	}
	if s.local.Port() != 0 || !s.local.Addr().IsUnspecified() {
		if err := linux.Bind(f, fam, s.local); err != nil {
			return err
		}
	}
	if isk.GetState() == linux.TCPEstablished && isk.GetProto() == linux.IpprotoUDP {
		if err := linux.Connect(f, fam, s.remote); err != nil {
			return err
		}
	}
	if isk.GetState() == linux.TCPListen {
		if err := linux.Listen(f, int(isk.GetBacklog())); err != nil {
			return err
		}
	}
	return setStatus(f, isk.GetFlags())
}

// buildConn brings a TCP connection back. Its options are set in repair
// mode before it is bound; SO_REUSEADDR only afterwards (repair mode
// forces reuse, and leaving it clears the flag).
func (s *inetSpec) buildConn() (*os.File, error) {
	opts := tcprepair.RestoreOptions{Mark: netlock.Mark,
		Setup: func(f *os.File) error { return applySockOpts(f, s.isk, false) }}
	f, err := tcprepair.Restore(s.conn, opts)
	if err != nil {
		return nil, err
	}
	if s.isk.GetOpts().GetReuseaddr() {
		err = linux.SetsockoptInt(f, linux.SolSocket, linux.SoReuseaddr, 1)
	}
	if err == nil {
		err = applyTimeouts(f, s.isk) // Restore bounded its own writes
	}
	if err == nil {
		err = unlockBuffers(f, s.isk)
	}
	if err == nil {
		err = setStatus(f, s.isk.GetFlags())
	}
	if err != nil {
		_ = tcprepair.Pause(f) // close without a FIN
		f.Close()
		return nil, err
	}
	return f, nil
}
