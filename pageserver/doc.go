// Package pageserver moves a checkpoint's pages over TCP: a dump pushes
// them to a page server (Pusher, a dumper.PageSink), a restore pulls them
// from one (Source, a uffd.Source), and a source-side lazy dump serves
// them from its frozen process (ProcessPages, Server.ServeFrozen).
//
// # Checkpoints
//
// A server holds many checkpoints: checkpoint NAME is the complete store
// in DIR/NAME. A name is 1 to 64 letters, digits, '.', '-', '_', starting
// with a letter or digit (CheckName), so it never leaves DIR. A push
// writes into DIR/.incoming-NAME-XXXX and renames it to DIR/NAME once the
// store is committed; a push that fails leaves nothing (and a server that
// starts removes what a crashed one left). A store is opened on the first
// restore that asks for it and closed when the last one is done; any
// number of restores, of any checkpoints, run at once.
//
// A restore takes its records from its own images directory and only its
// pages from the server. It proves which dump those records belong to
// with their Identity (a SHA-256 over every record); the server refuses
// (ErrMismatch) a checkpoint whose records differ, so pages of another
// dump that happens to have the same name can never fill the process.
//
// # Protocol
//
// Every frame has a 16-byte header, big-endian:
//
//	0      1       2             4                     8                              16
//	+------+-------+-------------+---------------------+------------------------------+
//	| type | flags | reserved    | length (u32)        | request id (u64)             |
//	+------+-------+-------------+---------------------+------------------------------+
//	| payload: length bytes, within the type's bounds (specs in frame.go)             |
//	+---------------------------------------------------------------------------------+
//
// Flags and reserved are zero in version 1. Requests and their replies
// carry a non-zero id; HELLO, WELCOME, AUTH, READY, PUTCHUNK and
// PUTRECORD carry none.
//
// A connection, after TLS when configured:
//
//	client                                           server
//	  HELLO  "CRLAZYPS" min-version max-version  ->
//	                                             <-  WELCOME version flags nonce-s(32)
//	  AUTH   nonce-c(32) mac(32)                 ->      mac = HMAC-SHA256(token,
//	                                                       "...client" nonce-s nonce-c)
//	                                             <-  READY  proof(32) = HMAC-SHA256(token,
//	                                                       "...server" nonce-c nonce-s)
//	  OPEN#1 lane name identity|header           ->
//	                                             <-  OPENED#1 chunk-size
//	  then, by lane:
//	  demand: GET#n mm addr                      ->  CHUNK#n start pages | NOCHUNK#n
//	          DONE#n                             ->  OK#n
//	  bulk:   RANGE#n mm start end               ->  CHUNK#n ... CHUNK#n END#n count
//	  push:   PUTCHUNK mm addr pages ...         ->
//	          PUTRECORD key payload ...          ->
//	          COMMIT#n chunks bytes records      ->  OK#n (the store is durable)
//
// Any request may be answered with ERROR#n code text instead; an error
// before OPEN, or on the push lane, ends the connection. The version is
// the highest both sides speak (this build: 1); without a token the MACs
// are zeros, and a client that has a token refuses a server that does not
// ask for it (it could be an impostor).
//
// # Lanes
//
// One connection carries one lane of one checkpoint. A Source keeps one
// demand connection, on which GETs of any number of goroutines are
// pipelined (ids; replies in any order, up to maxInflight served at once
// per connection), and one bulk connection per ChunksIn in progress
// (pooled), so that a fault is never queued behind a prefetch stream in
// a socket buffer. On the server, a bulk stream waits before each chunk
// while demand requests are being served anywhere on the server (at most
// maxBulkPause): demand goes first.
//
// # Limits
//
// Every frame type has a minimum and a maximum payload (specs); data
// frames are bounded by images.ChunkLimitBytes and, for a push, by the
// store's chunk size before anything is allocated; a record by
// maxRecordBytes. A frame that is of an unknown type, from the wrong
// side, with reserved bits, outside its bounds, on the wrong lane, or
// malformed inside (FrameError, ErrProtocol) ends its connection, and the
// server logs why. The handshake must be done within handshakeTimeout, a
// frame's payload must follow its header within frameTimeout, a peer must
// take each frame within writeTimeout (one that never reads is dropped),
// and a server holds at most maxConns connections. Requests only ever
// reach the checkpoint's store (or, source-side, the process's memory
// that the pagemap lists as saved): other mms and addresses are holes.
//
// # Authentication
//
// A shared token (LoadToken: at least 16 bytes, in a file only its owner
// may read) is proven both ways with an HMAC-SHA256 challenge on fresh
// nonces; it never crosses the wire. It authenticates peers but does not
// protect the traffic: use TLS (ServerTLS, ClientTLS; TLS 1.3, optionally
// with client certificates) for that. A server listens on loopback by
// default and refuses any other address unless it authenticates its
// peers (a token, or TLS with client certificates): ErrNeedAuth.
//
// # Error handling
//
// A Source retries what a lost connection broke (a reset, a server that
// went away, no reply within replyTimeout) by connecting again, for
// ClientConfig.RetryWindow (DefaultRetryWindow); a stream resumes after
// the last chunk it delivered. Past the window the call fails with
// ErrUnavailable: the lazy handler then kills the restored process (it
// never runs on zeros). Refusals (ERROR frames: RemoteError, matching
// ErrNoCheckpoint, ErrMismatch, ErrAuth, ErrExists) and protocol
// violations are not retried. An error returned by a caller's callback is
// returned as it is. A push is not retried: if its connection is lost the
// dump fails and the server drops what it received.
//
// # Source-side mode
//
// A dump with --lazy-pages writes the records and the pagemap but no
// chunks (DiscardPages), keeps the process frozen, and serves its memory
// with ServeFrozen: ProcessPages reads the pagemap's runs of saved pages
// with process_vm_readv, in chunks cut as the dumper cuts them. When a
// restore reports it has every page (DONE) the dump kills the process.
// If it is stopped, or the restores that connected stay away for
// lingerWindow, the process is released if no page was served, and
// killed otherwise (a restored copy may be running: never two).
//
// # Performance
//
// See bench/pageserver_test.go and docs/architecture.md ("Page server").
package pageserver
