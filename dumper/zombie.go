package dumper

import (
	"github.com/checkpoint-restore/go-criu/v8/crit"
	criucore "github.com/checkpoint-restore/go-criu/v8/crit/images/criu-core"
	"github.com/checkpoint-restore/go-criu/v8/crit/images/pstree"
	"google.golang.org/protobuf/proto"
)

// zombieImage records a child that exited but was not reaped: its pid,
// parent and wait status (exit code or killing signal); a restore brings
// it back as a zombie its parent can reap.
func zombieImage(p *process) *image {
	pid := proto.Uint32(uint32(p.pid))
	return &image{
		pid: p.pid,
		pstree: &pstree.PstreeEntry{Pid: pid, Ppid: proto.Uint32(uint32(p.ppid)),
			Pgid: proto.Uint32(uint32(p.stat.Pgrp)), Sid: proto.Uint32(uint32(p.stat.Session)),
			Threads: []uint32{uint32(p.pid)}},
		cores: []*criucore.CoreEntry{{
			Mtype: criucore.CoreEntry_X86_64.Enum(),
			Tc: &criucore.TaskCoreEntry{
				TaskState:   proto.Uint32(uint32(crit.TaskZombie)),
				ExitCode:    proto.Uint32(uint32(p.status)),
				Personality: proto.Uint32(0),
				Flags:       proto.Uint32(0),
				BlkSigset:   proto.Uint64(0),
				Comm:        proto.String(p.stat.Comm),
			},
		}},
		ids: &criucore.TaskKobjIdsEntry{VmId: pid, FilesId: pid, FsId: pid, SighandId: pid},
	}
}
