// Package bench measures crlazy against the limits of the machine it runs
// on. Every figure is printed next to a baseline measured in the same run,
// because absolute numbers on a shared 2-vCPU VM swing by 2x from run to run:
//
//	go test -run '^$' -bench . -benchtime 1x ./bench
//
// BenchmarkEager dumps a victim holding 1 GiB of non-zero memory into a
// store on local disk and restores it eagerly, and reports
//
//	dump-GB/s       memory dumped per second (seize to store committed)
//	restore-GB/s    memory restored per second (store opened to process running)
//	readv-GB/s      process_vm_readv of the same memory (dump's source limit)
//	writev-GB/s     process_vm_writev into fresh memory of another process
//	                (restore's destination limit: first touch of new pages),
//	                the better of two runs
//	filewrite-GB/s  write(2) of 1 GiB into a new file in the store's file
//	                system, then fsync (dump's destination limit)
//	dump/readv, dump/filewrite, restore/writev   the ratios
//
// On this VM memory freed and allocated again is slow to touch (the host
// reclaims freed guest pages), and every cycle frees and allocates gigabytes;
// the benchmark runs a warm-up cycle and reports the second.
package bench
