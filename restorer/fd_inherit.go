package restorer

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/checkpoint-restore/go-criu/v8/crit/images/fdinfo"
	"github.com/crlazy/crlazy/internal/linux"
)

// InheritFd gives the restored tree one of crlazy's descriptors in place
// of a resource of the image (criu's --inherit-fd fd[N]:KEY): every
// descriptor of the tree whose file Key names gets File's open file
// description instead, typically the end of a pipe whose other end was
// outside the dumped tree, or a log file.
type InheritFd struct {
	Fd   int    // the number crlazy was given it as (for messages)
	Key  string // "pipe:[INODE]" or a file's path (criu's keys)
	File *os.File
}

// ErrInheritFd is returned for an --inherit-fd that does not fit the image.
var ErrInheritFd = errors.New("inherit-fd")

// inheritKey is the key criu's --inherit-fd names f by, or "".
func inheritKey(f *fdinfo.FileEntry) string {
	switch f.GetType() {
	case fdinfo.FdTypes_PIPE:
		return fmt.Sprintf("pipe:[%d]", f.GetPipe().GetPipeId())
	case fdinfo.FdTypes_REG:
		return f.GetReg().GetName()
	}
	return ""
}

// inherit installs the inherited descriptors as crlazy's copies of the
// descriptions they replace, before anything is created. A key that names
// nothing in the image, or a pipe whose ends in the tree do not all have
// the inherited descriptor's access mode, is refused.
func (tf *treeFiles) inherit(list []InheritFd) error {
	for _, in := range list {
		what := fmt.Sprintf("fd[%d]:%s", in.Fd, in.Key)
		key := in.Key
		if !strings.HasPrefix(key, "pipe:[") && !strings.HasPrefix(key, "/") {
			if strings.Contains(key, ":[") {
				return fmt.Errorf("%w %s: only pipe:[INODE] and file paths can be inherited", ErrInheritFd, what)
			}
			key = "/" + key // criu's paths have no leading slash
		}
		acc, err := linux.StatusFlags(in.File)
		if err != nil {
			return fmt.Errorf("%w %s: descriptor %d: %w", ErrInheritFd, what, in.Fd, err)
		}
		acc &= linux.OAccmode
		var ids []uint32
		for id, f := range tf.files {
			if inheritKey(f) == key {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return fmt.Errorf("%w %s: no descriptor of the image is %s", ErrInheritFd, what, in.Key)
		}
		slices.Sort(ids)
		for _, id := range ids {
			f := tf.files[id]
			if f.GetType() == fdinfo.FdTypes_PIPE && int(f.GetPipe().GetFlags())&linux.OAccmode != acc {
				return fmt.Errorf("%w %s: the tree also holds the other end of that pipe (file id %d); only a pipe with one end in the tree can be inherited",
					ErrInheritFd, what, id)
			}
			if tf.objs[id] != nil {
				return fmt.Errorf("%w %s: file id %d is inherited twice", ErrInheritFd, what, id)
			}
			d, err := linux.DupFile(in.File)
			if err != nil {
				return fmt.Errorf("%w %s: %w", ErrInheritFd, what, err)
			}
			tf.objs[id] = d
			tf.inherited[id] = true
		}
	}
	return nil
}
