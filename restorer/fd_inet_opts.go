package restorer

import (
	"errors"
	"fmt"
	"os"
	"time"

	skinet "github.com/checkpoint-restore/go-criu/v8/crit/images/sk-inet"
	tcpstream "github.com/checkpoint-restore/go-criu/v8/crit/images/tcp-stream"
	"github.com/crlazy/crlazy/internal/linux"
)

// Bits of sk_opts_entry.so_buf_lock (SOCK_SNDBUF_LOCK, SOCK_RCVBUF_LOCK):
// the buffer size was set by the process, not tuned by the kernel.
const (
	sndbufLock = 1
	rcvbufLock = 2
)

// intOpt is one int socket option and the value the image wants, nil
// when the image does not say.
type intOpt struct {
	level, opt int
	want       *int
}

func u32p(p *uint32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func boolp(p *bool) *int {
	if p == nil {
		return nil
	}
	v := 0
	if *p {
		v = 1
	}
	return &v
}

// sockIntOpts lists the int options of isk. SO_REUSEADDR only if reuse
// (a repaired connection gets it afterwards).
func sockIntOpts(isk *skinet.InetSkEntry, reuse bool) []intOpt {
	o, ip, tcp := isk.GetOpts(), isk.GetIpOpts(), isk.GetTcpOpts()
	if ip == nil {
		ip = &skinet.IpOptsEntry{}
	}
	if tcp == nil || isk.GetProto() == linux.IpprotoUDP {
		tcp = &tcpstream.TcpOptsEntry{}
	}
	opts := []intOpt{
		{linux.SolSocket, linux.SoReuseport, boolp(o.SoReuseport)},
		{linux.SolSocket, linux.SoKeepalive, boolp(o.SoKeepalive)},
		{linux.SolSocket, linux.SoBroadcast, boolp(o.SoBroadcast)},
		{linux.SolSocket, linux.SoDontroute, boolp(o.SoDontroute)},
		{linux.SolSocket, linux.SoNoCheck, boolp(o.SoNoCheck)},
		{linux.SolSocket, linux.SoOobinline, u32p(o.SoOobinline)},
		{linux.SolSocket, linux.SoPriority, u32p(o.SoPriority)},
		{linux.SolSocket, linux.SoRcvlowat, u32p(o.SoRcvlowat)},
		{linux.SolSocket, linux.SoMark, u32p(o.SoMark)},
		{linux.SolSocket, linux.SoPasscred, boolp(o.SoPasscred)},
		{linux.SolSocket, linux.SoPasssec, boolp(o.SoPasssec)},
		{linux.IPProtoTCP, linux.TCPNodelay, boolp(tcp.Nodelay)},
		{linux.IPProtoTCP, linux.TCPCork, boolp(tcp.Cork)},
		{linux.IPProtoTCP, linux.TCPKeepcnt, u32p(tcp.Keepcnt)},
		{linux.IPProtoTCP, linux.TCPKeepidle, u32p(tcp.Keepidle)},
		{linux.IPProtoTCP, linux.TCPKeepintvl, u32p(tcp.Keepintvl)},
	}
	if reuse {
		opts = append(opts, intOpt{linux.SolSocket, linux.SoReuseaddr, boolp(o.Reuseaddr)})
	}
	if isk.GetFamily() == linux.AfInet6 {
		return append(opts, intOpt{linux.SolIPv6, linux.IPv6V6only, boolp(isk.V6Only)},
			intOpt{linux.SolIPv6, linux.IPv6Freebind, boolp(ip.Freebind)},
			intOpt{linux.SolIPv6, linux.IPv6Tclass, u32p(ip.Tos)})
	}
	return append(opts, intOpt{linux.SolIP, linux.IPFreebind, boolp(ip.Freebind)},
		intOpt{linux.SolIP, linux.IPTos, u32p(ip.Tos)},
		intOpt{linux.SolIP, linux.IPPktinfo, boolp(ip.Pktinfo)})
}

// applySockOpts gives new socket f the options of isk. An option is set
// only where it differs from what the new socket has, so that defaults
// are never forced (some protocols, such as MPTCP, refuse to set a few).
func applySockOpts(f *os.File, isk *skinet.InetSkEntry, reuse bool) error {
	if isk.GetOpts() == nil {
		return badImage("socket without its options")
	}
	for _, o := range sockIntOpts(isk, reuse) {
		if err := setIfDiffers(f, o); err != nil {
			return err
		}
	}
	if err := applyBuffers(f, isk, !reuse); err != nil {
		return err
	}
	o := isk.GetOpts()
	if dev := o.GetSoBoundDev(); dev != "" {
		if err := linux.BindToDevice(f, dev); err != nil {
			return err
		}
	}
	if o.SoLinger != nil {
		if err := linux.SetLinger(f, int(o.GetSoLinger())); err != nil {
			return err
		}
	}
	return applyTimeouts(f, isk)
}

func setIfDiffers(f *os.File, o intOpt) error {
	if o.want == nil {
		return nil
	}
	cur, err := linux.GetsockoptInt(f, o.level, o.opt)
	if errors.Is(err, linux.ENOTSUP) || errors.Is(err, linux.ENOPROTOOPT) {
		cur, err = 0, nil // not readable on this protocol: set it if not zero
	}
	if err != nil || cur == *o.want {
		return err
	}
	return linux.SetsockoptInt(f, o.level, o.opt, *o.want)
}

// applyBuffers sets the buffer sizes the process had set itself (the
// kernel reports twice what was asked; the FORCE variants pass
// net.core.[rw]mem_max as criu does). A connection (conn) gets the sizes
// its buffers had grown to in any case, or its queues might not fit
// again; unlockBuffers then lets the kernel tune them again.
func applyBuffers(f *os.File, isk *skinet.InetSkEntry, conn bool) error {
	o := isk.GetOpts()
	for _, b := range []struct {
		lock       uint32
		opt, force int
		size       uint32
	}{{sndbufLock, linux.SoSndbuf, linux.SoSndbufForce, o.GetSoSndbuf()},
		{rcvbufLock, linux.SoRcvbuf, linux.SoRcvbufForce, o.GetSoRcvbuf()}} {
		if o.GetSoBufLock()&b.lock == 0 && !conn {
			continue
		}
		if err := linux.SetsockoptInt(f, linux.SolSocket, b.force, int(b.size/2)); err != nil {
			return err
		}
	}
	return nil
}

// unlockBuffers gives a restored connection the buffer locks it had
// (SO_BUF_LOCK), after applyBuffers locked both.
func unlockBuffers(f *os.File, isk *skinet.InetSkEntry) error {
	return linux.SetsockoptInt(f, linux.SolSocket, linux.SoBufLock, int(isk.GetOpts().GetSoBufLock()&(sndbufLock|rcvbufLock)))
}

// maxSockTimeout bounds SO_SNDTIMEO and SO_RCVTIMEO.
const maxSockTimeout = 1 << 32 // seconds

func applyTimeouts(f *os.File, isk *skinet.InetSkEntry) error {
	o := isk.GetOpts()
	for _, t := range []struct {
		opt       int
		sec, usec uint64
	}{{linux.SoSndtimeo, o.GetSoSndTmoSec(), o.GetSoSndTmoUsec()},
		{linux.SoRcvtimeo, o.GetSoRcvTmoSec(), o.GetSoRcvTmoUsec()}} {
		if t.sec == 0 && t.usec == 0 {
			continue
		}
		if t.sec > maxSockTimeout || t.usec >= 1e6 {
			return badImage("socket timeout %d s %d µs", t.sec, t.usec)
		}
		d := time.Duration(t.sec)*time.Second + time.Duration(t.usec)*time.Microsecond
		if err := linux.SetsockoptTimeout(f, t.opt, d); err != nil {
			return fmt.Errorf("socket timeout: %w", err)
		}
	}
	return nil
}
