// Package tcprepair saves the state of a live TCP connection and brings
// it back on a new socket, so that the connection goes on with no SYN,
// FIN or reset seen by the peer (Linux TCP repair mode, CAP_NET_ADMIN).
// It plays the part of CRIU's libsoccr, with code of its own.
//
// # Saving
//
// Pause puts a socket into repair mode: from then on it sends nothing of
// its own, not even when it is closed. Save then reads, without consuming
// anything: the addresses, the TCP state, both sequence numbers
// (TCP_QUEUE_SEQ), both queues (MSG_PEEK on the receive queue, and on the
// send queue, which repair mode makes readable), how much of the send
// queue was never sent (SIOCOUTQNSD), the options negotiated at connect
// (TCP_INFO: timestamps, SACK, window scales; TCP_MAXSEG, which reads the
// MSS clamp in repair mode), the timestamp clock and the window state
// (TCP_REPAIR_WINDOW). Resume takes the socket out of repair mode again
// (it sends a window probe); closing it in repair mode makes it vanish
// silently.
//
// # Restoring
//
// Restore creates a socket in repair mode and, in this order: sets where
// each queue starts (its saved end less its length), binds and connects
// (repair-mode bind may share the port with other sockets, connect sends
// no SYN), sets the options and timestamp clock, writes the receive queue
// and the sent part of the send queue (in repair mode they are queued, not
// sent; the sent part is retransmitted if the peer never acknowledged
// it), sets the window state, leaves repair mode, and writes the unsent
// part as the process had.
//
// # Half-closed connections
//
// ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE_WAIT, CLOSING and LAST_ACK are
// saved. A FIN takes a sequence number; State's sequence numbers leave it
// out (CRIU's tcp_stream_entry, as Entry writes it, too). If we had shut
// down writing, Restore shuts the new socket down the same way (in repair
// mode if the FIN had been sent, so that it is only retransmitted). If the
// peer had, repair mode offers no way to queue its FIN: Restore forges
// the peer's FIN on a raw socket bound to the peer's address, in sequence,
// so that the socket moves to CLOSE_WAIT and the process reads EOF after
// the queued bytes. RestoreOptions.Mark lets that segment through a
// firewall that holds the connection's other traffic.
//
// # Limits and errors
//
// Each queue is at most QueueMax bytes. Save refuses other states with
// ErrUnsupportedState; Validate, Restore and FromEntry refuse a State no
// connection can have with ErrBadState (FromEntry is fuzzed). Out-of-order
// segments the socket held are not saved: the peer sends them again.
// Restore works on a socket that no other process can see yet; it leaves
// nothing behind on error.
package tcprepair
