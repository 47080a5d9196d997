package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names of badger's files in a store directory (badger v4).
const (
	manifestName = "MANIFEST"
	lockName     = "LOCK"
)

// badgerNames and badgerExts identify every file badger creates.
var (
	badgerNames = []string{manifestName, "MANIFEST-REWRITE", "KEYREGISTRY", "REWRITE-KEYREGISTRY", "DISCARD", lockName}
	badgerExts  = []string{".sst", ".vlog", ".mem"}
)

// criuImageExt is the extension of CRIU's image files.
const criuImageExt = ".img"

// Manifest header: "Bdgr", external magic (u16), badger version (u16).
const (
	manifestHeaderLen  = 8
	badgerMagicVersion = 8 // what badger v4.9.6 writes and reads
)

var manifestMagic = []byte("Bdgr")

// dirContents is what a directory holds, as far as stores are concerned.
type dirContents struct {
	badger []string // badger's files
	images int      // CRIU image files
}

func isBadgerFile(name string) bool {
	for _, n := range badgerNames {
		if name == n {
			return true
		}
	}
	for _, e := range badgerExts {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// scanDir lists dir. A missing dir is returned as an error that wraps
// fs.ErrNotExist.
func scanDir(dir string) (dirContents, error) {
	var c dirContents
	ents, err := os.ReadDir(dir)
	if err != nil {
		return c, err
	}
	for _, e := range ents {
		switch {
		case isBadgerFile(e.Name()):
			c.badger = append(c.badger, e.Name())
		case strings.HasSuffix(e.Name(), criuImageExt):
			c.images++
		}
	}
	return c, nil
}

func (c dirContents) has(name string) bool {
	for _, n := range c.badger {
		if n == name {
			return true
		}
	}
	return false
}

// checkManifest reads the header of dir's MANIFEST, so that a foreign
// badger database or a foreign file gets a clear message before badger
// sees it.
func checkManifest(dir string) error {
	f, err := os.Open(filepath.Join(dir, manifestName))
	if err != nil {
		return corrupt(err, "open %s", manifestName)
	}
	defer f.Close()
	var h [manifestHeaderLen]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return corrupt(err, "read %s header", manifestName)
	}
	if !bytes.Equal(h[:4], manifestMagic) {
		return fmt.Errorf("%s does not start with badger's magic: %w", manifestName, ErrNotStore)
	}
	if ext := binary.BigEndian.Uint16(h[4:]); ext != storeMagic {
		return fmt.Errorf("badger database of another program (magic %#x, want %#x): %w", ext, storeMagic, ErrNotStore)
	}
	if v := binary.BigEndian.Uint16(h[6:]); v != badgerMagicVersion {
		return corrupt(nil, "%s has badger format %d, want %d", manifestName, v, badgerMagicVersion)
	}
	return nil
}

// removeBadgerFiles removes every badger file in dir, and dir itself if
// created is set and dir is then empty. Used by Abort and by a Create
// that fails half-way; dir held no badger files before Create.
func removeBadgerFiles(dir string, created bool) error {
	c, err := scanDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	var errs []error
	for _, n := range c.badger {
		if err := os.Remove(filepath.Join(dir, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if created && len(errs) == 0 {
		if err := os.Remove(dir); err != nil && !dirNotEmpty(dir) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// dirNotEmpty reports whether dir still has entries (someone else put a
// file there; we leave the directory in place then).
func dirNotEmpty(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) > 0
}

// syncFiles fsyncs every value-log file in dir, and dir itself. badger's
// own Sync covers only the value-log file being written; the earlier ones
// were written through mappings and are flushed here.
func syncFiles(dir string) error {
	c, err := scanDir(dir)
	if err != nil {
		return err
	}
	for _, n := range c.badger {
		if strings.HasSuffix(n, ".vlog") {
			if err := syncPath(filepath.Join(dir, n)); err != nil {
				return err
			}
		}
	}
	return syncPath(dir)
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
