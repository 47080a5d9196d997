package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
	"github.com/dgraph-io/ristretto/v2/z"
)

// checkTables opens and fully verifies every table (*.sst) of dir before
// badger does. badger opens tables on goroutines of its own, where a
// panic on a damaged table (it trusts the lengths in the table footer)
// would kill the process out of reach of recover, and it silently skips
// a table whose checksum does not match. Here both become errors. Tables
// hold keys and small records only, but they grow with the store (~1.3 MB
// per GiB of chunks): with full false only each table's footer and index
// are read and checked, which is what could panic; blocks are then checked
// as they are read, and in full by Reader.Verify.
func checkTables(dir string, full bool) error {
	c, err := scanDir(dir)
	if err != nil {
		return err
	}
	for _, n := range c.badger {
		if !strings.HasSuffix(n, ".sst") {
			continue
		}
		check := checkTable
		if !full {
			check = checkTableIndex
		}
		if err := check(filepath.Join(dir, n)); err != nil {
			return corrupt(err, "table %s", n)
		}
	}
	return nil
}

func checkTable(path string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	id, ok := table.ParseFileID(path)
	if !ok {
		return fmt.Errorf("bad table file name")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	opt := &table.Options{ReadOnly: true, ChkMode: options.OnTableAndBlockRead, Compression: options.None}
	t, err := table.OpenInMemoryTable(data, id, opt)
	if err != nil {
		return err
	}
	return t.VerifyChecksum()
}

// checkTableIndex opens a table from its mapped file without verifying
// its blocks: badger still parses the footer and checks the index's own
// checksum, and any panic in that becomes an error here.
func checkTableIndex(path string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicError(p)
		}
	}()
	if _, ok := table.ParseFileID(path); !ok {
		return fmt.Errorf("bad table file name")
	}
	mf, err := z.OpenMmapFile(path, os.O_RDONLY, 0)
	if err != nil && !errors.Is(err, z.NewFile) {
		return err
	}
	opt := &table.Options{ReadOnly: true, ChkMode: options.NoVerification, Compression: options.None}
	t, err := table.OpenTable(mf, *opt)
	if err != nil {
		_ = mf.Close(-1)
		return err
	}
	return t.Close(-1)
}
