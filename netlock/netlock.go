package netlock

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
)

// Mark is the packet mark (SO_MARK) that passes a lock: crlazy marks the
// segments it forges while connections are held (tcprepair's FIN).
const Mark = 0xc1a2

// Limits.
const (
	// namePrefix starts every table crlazy makes.
	namePrefix = "crlazy_"
	// nameRandomBytes is how many random bytes follow it, in hex.
	nameRandomBytes = 8
	// hookPriority runs the lock's chains before conntrack and the
	// filter chains (NF_IP_PRI_RAW).
	hookPriority = -300
)

// ErrNoNft is returned when the nft command is missing.
var ErrNoNft = errors.New("nft (nftables) is needed to hold TCP connections: install the nftables package")

// ErrBadName is returned for a table name crlazy did not make.
var ErrBadName = errors.New("not a network lock name")

var nameRE = regexp.MustCompile(`^` + namePrefix + `[0-9a-f]{16}$`)

// Conn is one TCP connection, as seen from our side.
type Conn struct {
	Local, Remote netip.AddrPort
}

func (c Conn) String() string { return c.Local.String() + " -> " + c.Remote.String() }

// Lock holds the traffic of connections: an nftables table of its own
// whose chains drop every packet of them, both ways, except those
// marked Mark. Its methods are not safe for concurrent use.
type Lock struct {
	name    string
	created bool
	conns   map[Conn]bool
}

// New returns a lock with a new random name; nothing is held until Add.
func New() (*Lock, error) {
	b := make([]byte, nameRandomBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return &Lock{name: namePrefix + hex.EncodeToString(b), conns: map[Conn]bool{}}, nil
}

// Name is the nftables table of the lock (family inet).
func (l *Lock) Name() string { return l.name }

// Held reports whether c is held.
func (l *Lock) Held(c Conn) bool { return l.conns[c] }

// Add holds the traffic of conns from now on, in one transaction (the
// table is created with the first ones).
func (l *Lock) Add(conns ...Conn) error {
	var script strings.Builder
	if !l.created {
		l.writeTable(&script)
	}
	n := 0
	for _, c := range conns {
		if l.conns[c] {
			continue
		}
		if err := l.writeElement(&script, c); err != nil {
			return err
		}
		n++
	}
	if n == 0 && l.created {
		return nil
	}
	if err := nft(script.String()); err != nil {
		return fmt.Errorf("network lock %s: %w", l.name, err)
	}
	l.created = true
	for _, c := range conns {
		l.conns[c] = true
	}
	return nil
}

// writeTable writes the table: one set of connections per family, keyed
// local address . local port . remote address . remote port, matched in
// that order by outgoing packets and mirrored by incoming ones.
func (l *Lock) writeTable(w *strings.Builder) {
	fmt.Fprintf(w, "add table inet %s\n", l.name)
	fmt.Fprintf(w, "add set inet %s c4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n", l.name)
	fmt.Fprintf(w, "add set inet %s c6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n", l.name)
	for _, ch := range []struct{ name, hook, ours, theirs string }{
		{"input", "input", "daddr . tcp dport", "saddr . tcp sport"},
		{"output", "output", "saddr . tcp sport", "daddr . tcp dport"},
	} {
		fmt.Fprintf(w, "add chain inet %s %s { type filter hook %s priority %d; policy accept; }\n", l.name, ch.name, ch.hook, hookPriority)
		fmt.Fprintf(w, "add rule inet %s %s meta mark %#x accept\n", l.name, ch.name, Mark)
		for _, fam := range []struct{ ip, set string }{{"ip", "c4"}, {"ip6", "c6"}} {
			fmt.Fprintf(w, "add rule inet %s %s %s %s . %s %s @%s drop\n", l.name, ch.name,
				fam.ip, ch.ours, fam.ip, ch.theirs, fam.set)
		}
	}
}

// writeElement adds c to its family's set. An IPv4 peer of an IPv6
// socket (::ffff:a.b.c.d) talks IPv4 on the wire.
func (l *Lock) writeElement(w *strings.Builder, c Conn) error {
	la, ra := c.Local.Addr().Unmap(), c.Remote.Addr().Unmap()
	if la.Is4() != ra.Is4() || !la.IsValid() || !ra.IsValid() {
		return fmt.Errorf("connection %s: addresses of different families", c)
	}
	set := "c6"
	if la.Is4() {
		set = "c4"
	}
	fmt.Fprintf(w, "add element inet %s %s { %s . %d . %s . %d }\n", l.name, set,
		la.WithZone(""), c.Local.Port(), ra.WithZone(""), c.Remote.Port())
	return nil
}

// Release removes the lock: the connections' traffic flows again. It is
// a no-op for a lock that holds nothing.
func (l *Lock) Release() error {
	if !l.created {
		return nil
	}
	if err := Remove(l.name); err != nil {
		return err
	}
	l.created = false
	l.conns = map[Conn]bool{}
	return nil
}

// Remove removes the lock table name (a dump's, found in its images). A
// table that is already gone is not an error.
func Remove(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%q: %w", name, ErrBadName)
	}
	err := nft("delete table inet " + name + "\n")
	if err == nil {
		return nil
	}
	if exists, lerr := Exists(name); lerr == nil && !exists {
		return nil
	}
	return fmt.Errorf("remove network lock %s: %w", name, err)
}

// Exists reports whether the lock table name is in the ruleset.
func Exists(name string) (bool, error) {
	out, err := exec.Command("nft", "list", "tables", "inet").Output()
	if err != nil {
		return false, nftError(err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "table inet "+name {
			return true, nil
		}
	}
	return false, nil
}

// List returns the names of every lock table in the ruleset.
func List() ([]string, error) {
	out, err := exec.Command("nft", "list", "tables", "inet").Output()
	if err != nil {
		return nil, nftError(err, out)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "table inet "); ok && nameRE.MatchString(name) {
			names = append(names, name)
		}
	}
	return names, nil
}

// nft runs an nft script as one transaction.
func nft(script string) error {
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nftError(err, out.Bytes())
	}
	return nil
}

func nftError(err error, out []byte) error {
	if errors.Is(err, exec.ErrNotFound) {
		return ErrNoNft
	}
	return fmt.Errorf("nft: %w: %s", err, bytes.TrimSpace(out))
}
