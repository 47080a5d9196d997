package imagefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
)

// rootNode is the mount's root directory; when go-fuse adds it, it
// creates the whole tree as persistent inodes (the store never changes,
// so the tree is built once and go-fuse answers Lookup and Readdir from
// it).
type rootNode struct {
	dirNode
	tree *entry
}

var _ fs.NodeOnAdder = (*rootNode)(nil)

func (n *rootNode) OnAdd(ctx context.Context) {
	ino := uint64(rootIno)
	addChildren(ctx, &n.Inode, n.tree, n.a, &ino)
}

// addChildren creates the children of e under parent. Inode numbers
// follow the listing order, depth first, from rootIno: the same store
// gets the same numbers at every mount.
func addChildren(ctx context.Context, parent *fs.Inode, e *entry, a *attrs, ino *uint64) {
	for _, c := range e.children {
		*ino++
		var node fs.InodeEmbedder = &fileNode{a: a, src: c.src, sparse: c.sparse}
		mode := uint32(syscall.S_IFREG)
		if c.dir {
			node, mode = &dirNode{a: a}, syscall.S_IFDIR
		}
		child := parent.NewPersistentInode(ctx, node, fs.StableAttr{Mode: mode, Ino: *ino})
		parent.AddChild(c.name, child, false)
		if c.dir {
			addChildren(ctx, child, c, a, ino)
		}
	}
}
