package main

import (
	"os"

	"github.com/crlazy/crlazy/internal/feature"
	"github.com/spf13/pflag"
)

func init() {
	register("check", "probe the kernel features crlazy needs", runCheck)
}

// runCheck prints what works here; it fails (status 1) when dump or
// restore cannot work, whatever else is missing.
func runCheck(args []string) int {
	fs := pflag.NewFlagSet("check", pflag.ContinueOnError)
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	if st, ok := parseFlags(fs, args); !ok {
		return st
	}
	rep := feature.Check()
	write := rep.WriteText
	if asJSON {
		write = rep.WriteJSON
	}
	if err := write(os.Stdout); err != nil {
		return fail("check", err)
	}
	if !rep.Works(feature.UseDump) || !rep.Works(feature.UseRestore) {
		return 1
	}
	return 0
}
