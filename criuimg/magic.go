package criuimg

import (
	"fmt"
	"sync"

	"github.com/checkpoint-restore/go-criu/v8/magic"
)

// Magic names (go-criu's magic package spells them as CRIU's
// criu/include/magic.h does, without the _MAGIC suffix).
const (
	nameCommon    = "IMG_COMMON"
	nameService   = "IMG_SERVICE"
	nameInventory = "INVENTORY"
	// NamePagemap names pagemap-<pid>.img, whose first entry is a
	// pagemap_head instead of a pagemap_entry.
	NamePagemap = "PAGEMAP"
)

// serviceImages are the images that start with IMG_SERVICE instead of
// IMG_COMMON (CRIU's own bookkeeping, not process state).
var serviceImages = map[string]bool{"STATS": true, "IRMAP_CACHE": true}

// magics is go-criu's table, loaded once.
var magics = sync.OnceValue(magic.LoadMagic)

// Magic returns the magic number of the image type name ("CORE").
func Magic(name string) (uint32, error) {
	v, ok := magics().ByName[name]
	if !ok {
		return 0, fmt.Errorf("image type %q: %w", name, ErrUnknownMagic)
	}
	return uint32(v), nil
}

// MagicName returns the image type name of a magic number.
func MagicName(v uint32) (string, bool) {
	name, ok := magics().ByValue[uint64(v)]
	return name, ok
}

// header returns the magic words an image of type name starts with: the
// common (or service) magic, except for the inventory, then the type's.
func header(name string) ([]uint32, error) {
	m, err := Magic(name)
	if err != nil {
		return nil, err
	}
	if name == nameInventory {
		return []uint32{m}, nil
	}
	lead := nameCommon
	if serviceImages[name] {
		lead = nameService
	}
	c, err := Magic(lead)
	if err != nil {
		return nil, err
	}
	return []uint32{c, m}, nil
}
