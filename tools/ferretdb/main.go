// Command ferretdb-launcher runs an embedded FerretDB v1.24 on a loopback address so
// that tests and CI get a MongoDB wire-protocol compatible server without Docker or a
// real mongod.
//
// Backends (-backend):
//   - postgresql (the default): a throwaway PostgreSQL cluster (initdb in -dir, see
//     postgres.go) that the launcher starts and stops with itself. PostgreSQL runs many
//     commands at once, as a production database does.
//   - sqlite: the fallback where PostgreSQL cannot be had. It runs behind the
//     serializing proxy by default (see below), so it answers one command at a time.
//
// Usage:
//
//	go build -o ferretdb-launcher . && ./ferretdb-launcher -listen 127.0.0.1:27018 -dir /tmp/data -pg-bin-dir /usr/lib/postgresql/15/bin
//
// Once the TCP listener is bound it prints exactly one line to stdout:
//
//	ready mongodb://127.0.0.1:27018/
//
// All logs go to stderr. SIGINT/SIGTERM trigger a clean shutdown (listener
// closed, open connections drained, SQLite databases closed or PostgreSQL stopped).
//
// With -serialize=true (the default for sqlite only) FerretDB itself listens on a random loopback
// port and -listen is served by a small proxy that runs one command at a time
// across all connections, because FerretDB 1.x updates are not atomic under
// concurrency (lost $inc updates, E11000 on concurrent upserts). See
// serialize.go. The postgresql backend has the same read-then-write updates (see
// docs/store.md, "FerretDB"), and the project's code does not depend on them being atomic.
//
// Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb`?
// That binary's main module is github.com/FerretDB/FerretDB, and in that case
// build/version reads the generated build/version/version.txt, which only
// exists in release builds, so it panics at start-up.
//
// The embeddable package used here does not have that problem: build/version's
// init() only reads the generated *.txt files when
// debug.ReadBuildInfo().Main.Path == "github.com/FerretDB/FerretDB". Our main
// module has a different path, so init() returns early after reading
// mongodb.txt (which is always shipped in the module zip) and reports the
// version as "unknown" (ferretdb.New sets Package to "embedded"). No
// workaround is needed as long as this launcher lives in its own module.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // -debug-addr: Go profiles of the running server
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	os.Exit(run())
}

func run() int {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to listen on (must be loopback; port 0 = pick a free port)")
	dir := flag.String("dir", "", "directory for the data (SQLite files, or the PostgreSQL cluster); created if missing; default: a fresh temp dir removed on exit")
	backend := flag.String("backend", "postgresql", "storage backend: postgresql or sqlite")
	pgBinDir := flag.String("pg-bin-dir", "", "folder with PostgreSQL's initdb and postgres (postgresql backend; default: initdb's folder on PATH, else the newest /usr/lib/postgresql/*/bin)")
	pgUser := flag.String("pg-user", "", "unprivileged user to run PostgreSQL as when the launcher is root (default: postgres, else nobody)")
	startTimeout := flag.Duration("start-timeout", 60*time.Second, "max time for PostgreSQL to start")
	keep := flag.Bool("keep", false, "keep the default temp data dir on exit (ignored when -dir is set)")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn, error")
	allowNonLoopback := flag.Bool("allow-non-loopback", false, "allow listening on a non-loopback address")
	serialize := flag.Bool("serialize", false, "run one command at a time across all connections (start.sh turns it on for sqlite; see serialize.go)")
	shutdownTimeout := flag.Duration("shutdown-timeout", 10*time.Second, "max time to wait for a clean shutdown")
	debugAddr := flag.String("debug-addr", "", "loopback address for Go's profiles (/debug/pprof/: cpu, goroutine, mutex, block); off when empty")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: invalid -log-level %q: %s\n", *logLevel, err)
		return 2
	}

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if err := checkLoopback(*listen); err != nil && !*allowNonLoopback {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
		return 2
	}

	if *debugAddr != "" {
		if err := checkLoopback(*debugAddr); err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: -debug-addr: %s\n", err)
			return 2
		}

		// where goroutines wait on locks and channels, for the mutex and block profiles
		runtime.SetMutexProfileFraction(5)
		runtime.SetBlockProfileRate(int(time.Millisecond))

		go func() {
			logger.Warn("debug server stopped", slog.Any("error", http.ListenAndServe(*debugAddr, nil)))
		}()
	}

	dataDir := *dir
	if dataDir == "" {
		d, err := os.MkdirTemp("", "ferretdb-data-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
			return 1
		}

		dataDir = d

		if !*keep {
			defer os.RemoveAll(d)
		}
	} else if err := os.MkdirAll(dataDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
		return 1
	}

	absDir, err := filepath.Abs(dataDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	config := ferretdb.Config{Logger: logger, Handler: *backend}

	switch *backend {
	case "sqlite":
		// The SQLite handler wants a "file:" URI pointing to an existing directory,
		// with the path ending in "/" (see internal/backends/sqlite/metadata/pool/uri.go).
		config.SQLiteURL = (&url.URL{Scheme: "file", Path: filepath.ToSlash(absDir) + "/"}).String()
	case "postgresql":
		if *pgBinDir == "" {
			if *pgBinDir = findPgBinDir(); *pgBinDir == "" {
				fmt.Fprintln(os.Stderr, "ferretdb-launcher: PostgreSQL's initdb not found (set -pg-bin-dir, or install Debian's postgresql package)")
				return 2
			}
		}

		pg, err := startPostgres(ctx, *pgBinDir, absDir, *pgUser, *startTimeout, logger)
		if err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
			return 1
		}
		// runs after FerretDB has stopped (deferred calls run last-in first-out)
		defer pg.stop(*shutdownTimeout)

		config.PostgreSQLURL = pg.url
	default:
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: unknown -backend %q (postgresql or sqlite)\n", *backend)
		return 2
	}

	ferretListen := *listen

	var proxyLn net.Listener

	if *serialize {
		// bind the public address first so that "address already in use" is reported early
		if proxyLn, err = net.Listen("tcp", *listen); err != nil {
			fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
			return 1
		}
		defer proxyLn.Close()

		ferretListen = "127.0.0.1:0"
	}

	// In v1.24 ferretdb.New binds the listener itself, so "address in use"
	// and similar errors are reported here, and MongoDBURI() does not block.
	config.Listener = ferretdb.ListenerConfig{TCP: ferretListen}

	f, err := ferretdb.New(&config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ferretdb-launcher: %s\n", err)
		return 1
	}

	var wg sync.WaitGroup

	done := make(chan struct{})

	wg.Add(1)

	go func() {
		defer wg.Done()

		if err := f.Run(ctx); err != nil {
			logger.Error("FerretDB run failed", slog.String("error", err.Error()))
		}
	}()

	uri := f.MongoDBURI()

	if *serialize {
		backendAddr := strings.TrimSuffix(strings.TrimPrefix(uri, "mongodb://"), "/")
		p := newSerializingProxy(proxyLn, backendAddr, logger)

		wg.Add(1)

		go func() {
			defer wg.Done()
			p.run(ctx)

			if ctx.Err() == nil {
				logger.Error("proxy listener stopped unexpectedly; shutting down")
				stop()
			}
		}()

		uri = (&url.URL{Scheme: "mongodb", Host: proxyLn.Addr().String(), Path: "/"}).String()
	}

	go func() {
		wg.Wait()
		close(done)
	}()

	fmt.Fprintf(os.Stderr, "ferretdb-launcher: pid %d, backend %s, data dir %s, serialize=%t\n", os.Getpid(), *backend, absDir, *serialize)
	fmt.Printf("ready %s\n", uri)

	select {
	case <-done:
		// Run only returns after ctx is canceled, but be defensive.
		return 0
	case <-ctx.Done():
	}

	fmt.Fprintln(os.Stderr, "ferretdb-launcher: shutting down...")

	select {
	case <-done:
		fmt.Fprintln(os.Stderr, "ferretdb-launcher: stopped")
		return 0
	case <-time.After(*shutdownTimeout):
		fmt.Fprintln(os.Stderr, "ferretdb-launcher: shutdown timed out")
		return 1
	}
}

// checkLoopback returns an error unless addr's host is a loopback IP or "localhost".
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("invalid -listen %q: %w", addr, err)
	}

	if host == "localhost" {
		return nil
	}

	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("refusing to listen on non-loopback address " + addr + " (use -allow-non-loopback)")
	}

	return nil
}
