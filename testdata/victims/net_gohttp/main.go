// Command net_gohttp is a test victim: a Go HTTP server on 127.0.0.1, on
// a port the kernel picks, listening the way every Go 1.24+ server does
// (with MPTCP where the kernel has it), with TCP keep-alive probes tuned.
// It answers every request with "hello from go <n>\n", n counting the
// requests.
//
// Output:
//
//	ready <pid> port <port>
//	FAIL ...
package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

// keepAlive is the keep-alive configuration of the listener (so that a
// restore has options to bring back).
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 45 * time.Second, Interval: 7 * time.Second, Count: 5}

func main() {
	lc := net.ListenConfig{KeepAliveConfig: keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
	if err != nil {
		fmt.Println("FAIL listen:", err)
		os.Exit(2)
	}
	var n atomic.Uint64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from go %d\n", n.Add(1))
	})
	fmt.Printf("ready %d port %d\n", os.Getpid(), ln.Addr().(*net.TCPAddr).Port)
	if err := http.Serve(ln, h); err != nil {
		fmt.Println("FAIL serve:", err)
		os.Exit(2)
	}
}
