package dumper

import (
	"errors"
	"fmt"
	"os"
	"time"

	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	skopts "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-opts"
	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/crlazy/crlazy/internal/linux"
	"google.golang.org/protobuf/proto"
)

// sockOpts reads options of one socket, remembering the first error, so
// that the collection reads as a list.
type sockOpts struct {
	f   *os.File
	err error
}

func (r *sockOpts) int(level, opt int) int {
	v, err := linux.GetsockoptInt(r.f, level, opt)
	if r.err == nil {
		r.err = err
	}
	return v
}

func (r *sockOpts) u32(level, opt int) *uint32 { return proto.Uint32(uint32(r.int(level, opt))) }

func (r *sockOpts) bool(level, opt int) *bool { return proto.Bool(r.int(level, opt) != 0) }

// optional reads an option that some protocols lack (MPTCP answers
// EOPNOTSUPP for a few): nil then.
func (r *sockOpts) optional(level, opt int) *uint32 {
	v, err := linux.GetsockoptInt(r.f, level, opt)
	if err != nil {
		if !errors.Is(err, linux.ENOTSUP) && !errors.Is(err, linux.ENOPROTOOPT) && r.err == nil {
			r.err = err
		}
		return nil
	}
	return proto.Uint32(uint32(v))
}

func (r *sockOpts) optionalBool(level, opt int) *bool {
	if v := r.optional(level, opt); v != nil {
		return proto.Bool(*v != 0)
	}
	return nil
}

func (r *sockOpts) timeout(opt int) (sec, usec *uint64) {
	d, err := linux.GetsockoptTimeout(r.f, opt)
	if r.err == nil {
		r.err = err
	}
	return proto.Uint64(uint64(d / time.Second)), proto.Uint64(uint64(d % time.Second / time.Microsecond))
}

// collectSockOpts fills the socket, IP and TCP options of isk.
func collectSockOpts(s *inetSock, isk *skinet.InetSkEntry) error {
	r := &sockOpts{f: s.f}
	o := &skopts.SkOptsEntry{
		SoSndbuf: r.u32(linux.SolSocket, linux.SoSndbuf), SoRcvbuf: r.u32(linux.SolSocket, linux.SoRcvbuf),
		SoBufLock: r.u32(linux.SolSocket, linux.SoBufLock),
		Reuseaddr: r.bool(linux.SolSocket, linux.SoReuseaddr), SoReuseport: r.bool(linux.SolSocket, linux.SoReuseport),
		SoKeepalive: r.bool(linux.SolSocket, linux.SoKeepalive), SoBroadcast: r.bool(linux.SolSocket, linux.SoBroadcast),
		SoDontroute: r.bool(linux.SolSocket, linux.SoDontroute), SoNoCheck: r.bool(linux.SolSocket, linux.SoNoCheck),
		SoOobinline: r.u32(linux.SolSocket, linux.SoOobinline), SoPriority: r.u32(linux.SolSocket, linux.SoPriority),
		SoRcvlowat: r.u32(linux.SolSocket, linux.SoRcvlowat), SoMark: r.u32(linux.SolSocket, linux.SoMark),
		SoPasscred: r.optionalBool(linux.SolSocket, linux.SoPasscred), SoPasssec: r.optionalBool(linux.SolSocket, linux.SoPasssec),
	}
	o.SoSndTmoSec, o.SoSndTmoUsec = r.timeout(linux.SoSndtimeo)
	o.SoRcvTmoSec, o.SoRcvTmoUsec = r.timeout(linux.SoRcvtimeo)
	if on, secs, err := linux.Linger(s.f); err != nil {
		r.err = errors.Join(r.err, err)
	} else if on {
		o.SoLinger = proto.Uint32(uint32(secs))
	}
	dev, err := linux.BoundDevice(s.f)
	if dev != "" {
		o.SoBoundDev = proto.String(dev)
	}
	isk.Opts = o
	collectIPOpts(r, s, isk)
	if s.proto != linux.IpprotoUDP {
		isk.TcpOpts = &tcpstream.TcpOptsEntry{
			Nodelay: r.bool(linux.IPProtoTCP, linux.TCPNodelay), Cork: r.bool(linux.IPProtoTCP, linux.TCPCork),
			Keepcnt: r.u32(linux.IPProtoTCP, linux.TCPKeepcnt), Keepidle: r.u32(linux.IPProtoTCP, linux.TCPKeepidle),
			Keepintvl: r.u32(linux.IPProtoTCP, linux.TCPKeepintvl),
		}
	}
	if err := errors.Join(r.err, err); err != nil {
		return fmt.Errorf("socket options: %w", err)
	}
	return nil
}

// collectIPOpts reads IPV6_V6ONLY, freebind, the TOS / traffic class and
// IP_PKTINFO (what a UDP server that answers from the right address
// needs).
func collectIPOpts(r *sockOpts, s *inetSock, isk *skinet.InetSkEntry) {
	ip := &skinet.IpOptsEntry{}
	if s.family == linux.AfInet6 {
		isk.V6Only = r.bool(linux.SolIPv6, linux.IPv6V6only)
		ip.Freebind = r.bool(linux.SolIPv6, linux.IPv6Freebind)
		ip.Tos = r.optional(linux.SolIPv6, linux.IPv6Tclass)
	} else {
		ip.Freebind = r.bool(linux.SolIP, linux.IPFreebind)
		ip.Tos = r.optional(linux.SolIP, linux.IPTos)
		if s.proto == linux.IpprotoUDP {
			ip.Pktinfo = r.bool(linux.SolIP, linux.IPPktinfo)
		}
	}
	isk.IpOpts = ip
}
