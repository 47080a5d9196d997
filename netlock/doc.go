// Package netlock holds the traffic of chosen TCP connections while the
// processes that own them are checkpointed and restored: CRIU's "network
// lock", with nftables.
//
// # Why
//
// Between the moment a dump reads a connection and the moment the
// restored socket exists, the peer keeps sending (data, ACKs, window
// probes). A segment that reaches the old socket after its queues were
// read would be acknowledged and then lost; one that arrives while no
// socket has the address is answered with a reset, and the connection is
// gone. Holding every packet of the connection, both ways, for the
// duration makes the peer see a silent path instead: it retransmits
// (with backoff) until the restored socket answers.
//
// # How
//
// A Lock is one nftables table of family inet, named crlazy_ and 16
// random hex digits, so that it is removed whole with one command and
// never touches anyone else's rules:
//
//	table inet crlazy_0123456789abcdef {
//	  set c4 { type ipv4_addr . inet_service . ipv4_addr . inet_service }
//	  set c6 { type ipv6_addr . inet_service . ipv6_addr . inet_service }
//	  chain input  { type filter hook input  priority -300; meta mark 0xc1a2 accept
//	                 ip daddr . tcp dport . ip saddr . tcp sport @c4 drop; (ip6 alike) }
//	  chain output { type filter hook output priority -300; meta mark 0xc1a2 accept
//	                 ip saddr . tcp sport . ip daddr . tcp dport @c4 drop; (ip6 alike) }
//	}
//
// Elements are (local address . local port . remote address . remote
// port); outgoing packets match them as they are and incoming ones
// mirrored. A drop in any base chain is final in nftables, whatever other
// tables accept. Packets marked Mark pass: tcprepair forges the peer's
// FIN of a half-closed connection with it. Every change is one `nft -f`
// transaction. Add may be called again for connections found later.
//
// # Lifetime
//
// The dumper adds the lock before it reads any connection; it releases
// it itself when the dump fails or the tree is left running, and
// otherwise records the table's name in the images, where the restorer
// finds it and removes it once the sockets are back (or the restore
// failed: the connections are lost then either way). Remove of a table
// that is gone is not an error. List finds every lock table, for tests
// and for an operator cleaning up after a dump that is never restored.
//
// # Alternatives
//
// iptables rules work the same way but are inserted into shared chains
// (one rule per connection and direction, removed one by one); a cgroup
// BPF program would only see the processes' own sockets, not the
// kernel's answers for an address that has no socket. nftables gives an
// isolated, atomic, set-based lock with nothing to compile.
package netlock
