package demand

import (
	"testing"
	"time"
)

func TestGate(t *testing.T) {
	var g Gate
	start := time.Now()
	g.Wait(time.Hour) // idle: at once
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Wait on an idle gate took %v", d)
	}

	g.Enter()
	g.Enter()
	done := make(chan struct{})
	go func() { g.Wait(time.Hour); close(done) }()
	g.Leave()
	select {
	case <-done:
		t.Fatal("Wait returned while demand work was still in progress")
	case <-time.After(20 * time.Millisecond):
	}
	g.Leave()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return once the gate was idle")
	}

	g.Enter()
	defer g.Leave()
	start = time.Now()
	g.Wait(10 * time.Millisecond) // busy: returns after max
	if d := time.Since(start); d < 10*time.Millisecond {
		t.Fatalf("Wait on a busy gate returned after %v, before its bound", d)
	}
}
