package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4/options"
	"github.com/dgraph-io/badger/v4/table"
)

// checkTables opens and fully verifies every table (*.sst) of dir before
// badger does. badger opens tables on goroutines of its own, where a
// panic on a damaged table (it trusts the lengths in the table footer)
// would kill the process out of reach of recover, and it silently skips
// a table whose checksum does not match. Here both become errors. Tables
// hold keys and small records only, so reading them whole is cheap.
func checkTables(dir string) error {
	c, err := scanDir(dir)
	if err != nil {
		return err
	}
	for _, n := range c.badger {
		if !strings.HasSuffix(n, ".sst") {
			continue
		}
		if err := checkTable(filepath.Join(dir, n)); err != nil {
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
