package dumper

import (
	"fmt"
	"strings"

	"github.com/crlazy/crlazy/internal/linux"
)

// fdKind is what a descriptor refers to, as far as dump and restore care.
type fdKind int

const (
	kindReg      fdKind = iota // a regular file, directory or device, reopened by path
	kindPipe                   // pipe(2)
	kindFifo                   // a named pipe, reopened by path
	kindEventfd                // eventfd(2)
	kindEpoll                  // epoll_create(2)
	kindSignalfd               // signalfd(2)
	kindTimerfd                // timerfd_create(2)
	kindInotify                // inotify_init(2)
	kindPidfd                  // pidfd_open(2), clone(CLONE_PIDFD)
	kindSocket                 // inet sockets saved (fd_inet.go), others refused (socketError)
	kindMemfd                  // memfd_create(2) (fd_memfd.go)
	kindGhost                  // a file whose name ends in " (deleted)" (fd_ghost.go)
	kindTTY                    // a terminal (fd_tty.go)
)

// Character device majors that are terminals (Documentation/admin-guide/devices.txt).
const (
	ttyMajor     = 4
	ttyAuxMajor  = 5
	ptsMajorLow  = 136
	ptsMajorHigh = 143
)

// anonKinds are the anon_inode descriptors crlazy saves, by link name.
var anonKinds = map[string]fdKind{
	"[eventfd]":   kindEventfd,
	"[eventpoll]": kindEpoll,
	"[signalfd]":  kindSignalfd,
	"[timerfd]":   kindTimerfd,
	"inotify":     kindInotify,
	"[pidfd]":     kindPidfd,
}

// anonRefused names the anon_inode descriptors that are refused.
var anonRefused = map[string]string{
	"[io_uring]":     "io_uring instances are not supported",
	"[userfaultfd]":  "userfaultfd descriptors are not supported yet",
	"[fanotify]":     "fanotify is not supported yet",
	"[perf_event]":   "perf events are not supported",
	"[memfd_secret]": "memfd_secret is not supported",
}

// classifyLink tells the kind of a descriptor by what /proc/PID/fd/N
// points to, or refuses it.
func classifyLink(link, what string) (fdKind, error) {
	switch {
	case strings.HasPrefix(link, "socket:"):
		return kindSocket, nil // saved or refused by socketEntry (fd_inet.go)
	case strings.HasPrefix(link, "pipe:"):
		return kindPipe, nil
	case strings.HasPrefix(link, "anon_inode:"):
		return classifyAnon(strings.TrimPrefix(link, "anon_inode:"), what)
	case strings.HasPrefix(link, "/memfd:"):
		return kindMemfd, nil
	case !strings.HasPrefix(link, "/"):
		return kindReg, unsupported("this kind of descriptor is not supported yet", "%s", what)
	case strings.HasSuffix(link, " (deleted)"):
		return kindGhost, nil
	}
	return kindReg, nil
}

func classifyAnon(name, what string) (fdKind, error) {
	if k, ok := anonKinds[name]; ok {
		return k, nil
	}
	if reason, ok := anonRefused[name]; ok {
		return kindReg, unsupported(reason, "%s", what)
	}
	if strings.HasPrefix(name, "bpf") {
		return kindReg, unsupported("bpf objects are not supported", "%s", what)
	}
	return kindReg, unsupported(name+" descriptors are not supported yet", "%s", what)
}

// classifyMode tells the kind of a descriptor whose link is a path by
// the type of the open inode, or refuses it.
func classifyMode(st linux.StatInfo, what string) (fdKind, error) {
	switch st.Mode & linux.SIfmt {
	case linux.SIfreg, linux.SIfdir:
		return kindReg, nil
	case linux.SIfchr:
		if isTerminal(st.Rdev) {
			return kindTTY, nil // saved or refused by ttyEntry (fd_tty.go)
		}
		return kindReg, nil
	case linux.SIfifo:
		return kindFifo, nil
	case linux.SIfsock:
		return kindReg, unsupported("sockets are not supported yet", "%s", what)
	case linux.SIfblk:
		return kindReg, unsupported("block devices are not supported yet", "%s", what)
	}
	return kindReg, unsupported(fmt.Sprintf("file type %#o is not supported", st.Mode&linux.SIfmt), "%s", what)
}

func isTerminal(rdev uint64) bool {
	maj := linux.Major(rdev)
	return maj == ttyMajor || maj == ttyAuxMajor || (maj >= ptsMajorLow && maj <= ptsMajorHigh)
}

// socketError completes the refusal of a socket with its family and type
// (read from a copy of the descriptor), so that the message says which
// socket it is: "sockets are not supported yet (netlink, protocol 0)".
func (c *collector) socketError(fd int, refusal error) error {
	f, err := c.p.leader().StealFD(fd)
	if err != nil {
		return refusal
	}
	defer f.Close()
	domain, typ, protocol, err := linux.SocketInfo(f)
	if err != nil {
		return refusal
	}
	ue := *refusal.(*UnsupportedError)
	ue.Reason += " (" + socketName(domain, typ, protocol) + ")"
	return &ue
}

var (
	socketFamilies = map[int]string{linux.AfUnix: "UNIX", linux.AfInet: "IPv4", linux.AfInet6: "IPv6",
		linux.AfNetlink: "netlink", linux.AfPacket: "packet"}
	socketTypes = map[int]string{linux.SockStream: "stream", linux.SockDgram: "datagram",
		linux.SockSeqpacket: "seqpacket", linux.SockRaw: "raw"}
	socketProtocols = map[int]string{linux.IpprotoTCP: "TCP", linux.IpprotoUDP: "UDP", linux.IpprotoMPTCP: "MPTCP"}
)

// socketName describes a socket: "UNIX stream", "IPv4 TCP", "netlink,
// protocol 0", "packet raw".
func socketName(domain, typ, protocol int) string {
	fam, ok := socketFamilies[domain]
	if !ok {
		fam = fmt.Sprintf("family %d", domain)
	}
	switch domain {
	case linux.AfInet, linux.AfInet6:
		if p, ok := socketProtocols[protocol]; ok {
			return fam + " " + p
		}
	case linux.AfNetlink:
		return fmt.Sprintf("%s, protocol %d", fam, protocol)
	}
	kind, ok := socketTypes[typ]
	if !ok {
		kind = fmt.Sprintf("type %d", typ)
	}
	return fam + " " + kind
}
