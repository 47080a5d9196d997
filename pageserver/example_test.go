package pageserver_test

import (
	"log"

	"github.com/crlazy/crlazy/pageserver"
	"github.com/crlazy/crlazy/restorer"
	"github.com/crlazy/crlazy/store"
)

// A page server keeps checkpoints under a directory; a restore elsewhere
// takes its records from its own copy of the dump's images directory and
// every page from the server.
func Example_lazyRestore() {
	token, err := pageserver.LoadToken("/etc/crlazy/token")
	if err != nil {
		log.Fatal(err)
	}
	// On the server's host.
	srv, err := pageserver.Listen(pageserver.Config{Address: "10.0.0.1:7007", Dir: "/srv/ckpts", Token: token})
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve()

	// On the restoring host: the records of checkpoint "web".
	local, err := store.Open("/var/tmp/web")
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	pages, err := pageserver.Open(pageserver.ClientConfig{Address: "10.0.0.1:7007", Token: token}, "web", local)
	if err != nil {
		log.Fatal(err)
	}
	defer pages.Close()
	p, err := restorer.Restore(restorer.Options{ImagesDir: "/var/tmp/web", LazyPages: true, Pages: pages})
	if err != nil {
		log.Fatal(err)
	}
	if err := p.WaitPages(); err == nil {
		pages.Finish() // a source-side dump may now let its process go
	}
}
