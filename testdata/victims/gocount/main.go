// Command gocount is a test victim written in Go, so that a restore meets
// the Go runtime: many threads, goroutines parked on futexes, the netpoller
// (epoll and an eventfd), timers, preemption signals (SIGURG) and the
// garbage collector.
//
// Workers hash a shared region and compare with the hash taken at start;
// the main goroutine prints a line per tick. SIGUSR1 (os/signal) makes it
// print "signal".
//
// Output:
//
//	ready <pid>
//	tick <n> rounds=<n> gc=<n>
//	signal
//	FAIL ...
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	regionBytes = 32 << 20
	workers     = 8
	tick        = 100 * time.Millisecond
)

func main() {
	region := make([]byte, regionBytes)
	for i := range region {
		region[i] = byte(i*7 + i>>12)
	}
	want := sha256.Sum256(region)
	var rounds atomic.Uint64
	var mu sync.Mutex
	for w := range workers {
		go func() {
			for {
				chunk := region[w*regionBytes/workers : (w+1)*regionBytes/workers]
				sum := sha256.Sum256(chunk)
				mu.Lock()
				full := sha256.Sum256(region)
				mu.Unlock()
				if full != want {
					fail("worker %d: the region changed", w)
				}
				_ = sum
				rounds.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// Garbage for the collector, and goroutines parked on channels.
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
	}()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	fmt.Printf("ready %d\n", os.Getpid())
	t := time.NewTicker(tick)
	for n := 1; ; n++ {
		select {
		case <-t.C:
		case <-sigs:
			fmt.Println("signal")
			continue
		}
		ping <- n
		if got := <-pong; got != n+1 {
			fail("channel gave %d, want %d", got, n+1)
		}
		_ = make([]byte, 1<<20)
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("tick %d rounds=%d gc=%d\n", n, rounds.Load(), ms.NumGC)
	}
}

func fail(format string, args ...any) {
	fmt.Printf("FAIL "+format+"\n", args...)
	os.Exit(2)
}
