package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// helperEnv makes the test binary act as a helper process (see
// runHelper) instead of running tests: dumps that die and readers in
// another process.
const helperEnv = "CRLAZY_STORE_TEST_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(runHelper(h, os.Getenv("CRLAZY_STORE_TEST_DIR")))
	}
	os.Exit(m.Run())
}

// runHelper runs helper h on the store in dir and returns the exit code.
//
//	crash: create a store, write the fixture, exit without Commit.
//	read:  open the store, print "open", wait for a line on stdin, read
//	       everything, print "ok" or the problem.
func runHelper(h, dir string) int {
	switch h {
	case "crash":
		return helperCrash(dir)
	case "read":
		return helperRead(dir)
	}
	fmt.Fprintln(os.Stderr, "unknown helper", h)
	return 2
}

func helperCrash(dir string) int {
	w, err := Create(dir, testHeader())
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for _, c := range newFixture().chunks {
		if err := w.PutChunk(c.mm, c.addr, c.data); err != nil {
			fmt.Println(err)
			return 1
		}
	}
	w.mu.Lock()
	err = w.batch.flush() // the data reaches badger; the dump then dies
	w.mu.Unlock()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Println("died")
	return 0
}

func helperRead(dir string) int {
	r, err := Open(dir)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer r.Close()
	fmt.Println("open")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Println(err)
		return 1
	}
	got, err := readAll(r, fixtureMMs)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	if d := diff(newFixture().snapshot(), got); d != "" {
		fmt.Println(d)
		return 1
	}
	fmt.Println("ok")
	return 0
}

// helper starts the test binary as helper h on dir.
func helper(t *testing.T, h, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+h, "CRLAZY_STORE_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	return cmd
}
