// Package bench is the engine of `loadgen bench`: the reproducible benchmark
// that measures what one generator process costs per call.
//
// The built-in gateway runs as a separate process (`loadgen serve`) and the
// generator runs as another (`loadgen run` with a scenario generated for each
// step), each pinned with taskset to its own cores when the machine has two
// or more, so that what is measured is the generator alone. The generator is
// read from /proc (utime+stime, VmRSS, threads, open descriptors) about every
// 250 ms, and its goroutines from its own Prometheus endpoint, scraped just
// after each measured window (a scrape costs CPU and memory of its own).
// CPU over a window is the cumulative tick counter interpolated at both
// ends; its resolution is one clock tick (10 ms), so short windows at low
// load are coarse.
//
// Three ladders run, each climbing until the first step that fails:
//
//   - setup: audio-only calls with a zero hold at rising open-model rates;
//     CPU per call is the generator's CPU over the run, less its idle cost,
//     divided by the calls. A step passes with zero failed or dropped calls,
//     p99 connect (from the scheduled start) under 250 ms and scheduler lag
//     p99 under 5 ms.
//   - steady audio and steady audio+video: N calls ramped in at a fixed
//     rate and held; once the last call has media, a steady window is
//     measured: CPU per media packet (sent and received, each call's
//     packets from calls.jsonl spread over its media span and counted
//     where they overlap the window), and RSS, goroutines, descriptors and
//     threads per call above the idle generator. A step passes when every call succeeded, no packet was
//     lost, no media write was late and all N calls were up together for
//     the whole window.
//
// Every ladder runs once per media engine (Mode): transport (`run
// --media-engine transport`, loadgen's per-core transport), lean (`run
// --media-engine pion`, the lean pion engine) and pion-defaults (`run
// --media-engine pion-defaults`), and the result carries the transport
// figures' ratios to the other two and pion-defaults ÷ lean. A failing step
// whose gateway used at least 90 % of its CPUs is gateway-bound: the gateway,
// not the generator, stopped the ladder, which reports "limit not reached"
// there instead of a generator limit. Before each pass an idle generator (engine, client and metrics up,
// no call) is measured; its CPU rate, RSS, goroutines, descriptors and
// threads are the baseline subtracted from every per-call figure.
package bench
