package main

// A throwaway PostgreSQL server for FerretDB's postgresql backend.
//
// initdb makes a fresh cluster in <dir>/pg, and the postmaster listens only on a Unix
// socket in <dir>/pgsock (no TCP port, so runs never collide). PostgreSQL refuses to
// run as root, so when the launcher is root (CI) both run as an unprivileged user
// (-pg-user, default "postgres", the account Debian's postgresql package makes, else
// "nobody"). The cluster is a test database: fsync, synchronous commit and full-page
// writes are off. The postmaster gets SIGQUIT if the launcher dies (Pdeathsig), so a
// killed launcher leaves no server behind.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgDatabase is the database initdb creates; FerretDB keeps one schema per MongoDB database in it.
const pgDatabase = "postgres"

// pgRole is the superuser initdb creates (trust authentication over the private socket).
const pgRole = "ferretdb"

type postgresServer struct {
	cmd    *exec.Cmd
	exited chan struct{}
	url    string
	logger *slog.Logger
}

// credentialFor returns the credential to run PostgreSQL as: nil when the launcher is not root.
func credentialFor(name string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}

	candidates := []string{name}
	if name == "" {
		candidates = []string{"postgres", "nobody"}
	}

	for _, n := range candidates {
		u, err := user.Lookup(n)
		if err != nil {
			continue
		}

		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)

		if err1 != nil || err2 != nil || uid == 0 {
			continue
		}

		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}

	return nil, fmt.Errorf("running as root and no unprivileged user to run PostgreSQL as (tried %s; set -pg-user)", strings.Join(candidates, ", "))
}

// command builds a PostgreSQL program's command, run as cred (when set).
func pgCommand(binDir, prog string, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, prog), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}

	return cmd
}

// findPgBinDir returns the folder of initdb on PATH (links resolved), else the newest
// /usr/lib/postgresql/*/bin with an initdb (Debian's layout), else "".
func findPgBinDir() string {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
	}

	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(found, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[i]))))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(found[j]))))

		return vi < vj
	})

	if len(found) == 0 {
		return ""
	}

	return filepath.Dir(found[len(found)-1])
}

// startPostgres runs initdb in dir/pg and starts the postmaster on a socket in dir/pgsock.
// It returns once the server accepts connections (postmaster.pid says "ready").
func startPostgres(ctx context.Context, binDir, dir, userName string, timeout time.Duration, logger *slog.Logger) (*postgresServer, error) {
	cred, err := credentialFor(userName)
	if err != nil {
		return nil, err
	}

	dataDir := filepath.Join(dir, "pg")
	sockDir := filepath.Join(dir, "pgsock")

	for _, d := range []string{dataDir, sockDir} {
		if err = os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}

		if cred != nil {
			if err = os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, err
			}
		}
	}

	if cred != nil {
		// the unprivileged user must be able to reach its folders (not list the parent)
		if err = os.Chmod(dir, 0o711); err != nil {
			return nil, err
		}
	}

	began := time.Now()

	// a kept cluster (-dir reused) is started as it is
	if _, err = os.Stat(filepath.Join(dataDir, "PG_VERSION")); err == nil {
		logger.Info("using the existing cluster", slog.String("dir", dataDir))
		return runPostgres(ctx, binDir, dataDir, sockDir, cred, began, timeout, logger)
	}

	initdb := pgCommand(binDir, "initdb", cred, "-D", dataDir, "-U", pgRole, "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions")

	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb failed: %w\n%s", err, bytes.TrimSpace(out))
	}

	logger.Info("initdb done", slog.Duration("took", time.Since(began)), slog.String("dir", dataDir))

	return runPostgres(ctx, binDir, dataDir, sockDir, cred, began, timeout, logger)
}

// runPostgres starts the postmaster on dataDir and waits until it is ready.
func runPostgres(ctx context.Context, binDir, dataDir, sockDir string, cred *syscall.Credential, began time.Time, timeout time.Duration, logger *slog.Logger) (*postgresServer, error) {
	postgres := pgCommand(binDir, "postgres", cred,
		"-D", dataDir,
		"-k", sockDir,
		"-c", "listen_addresses=",
		"-c", "max_connections=200",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "log_min_messages=warning",
		"-c", "log_line_prefix=postgres[%p] ",
	)
	postgres.Stdout = os.Stderr
	postgres.Stderr = os.Stderr
	postgres.SysProcAttr.Pdeathsig = syscall.SIGQUIT
	postgres.SysProcAttr.Setpgid = true // a Ctrl-C in the caller's terminal reaches the launcher, which stops it in order

	if err := postgres.Start(); err != nil {
		return nil, err
	}

	s := &postgresServer{cmd: postgres, exited: make(chan struct{}), logger: logger}

	go func() {
		_ = postgres.Wait()
		close(s.exited)
	}()

	deadline := time.After(timeout)

	for !postmasterReady(dataDir, postgres.Process.Pid) {
		select {
		case <-s.exited:
			return nil, errors.New("postgres exited before it was ready (its log is above)")
		case <-deadline:
			s.stop(10 * time.Second)
			return nil, fmt.Errorf("postgres not ready after %s", timeout)
		case <-ctx.Done():
			s.stop(10 * time.Second)
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}

	s.url = (&url.URL{
		Scheme: "postgres",
		User:   url.User(pgRole),
		Path:   "/" + pgDatabase,
		// FerretDB's default pool is 50 connections; three service instances under load use more
		RawQuery: url.Values{"host": {sockDir}, "pool_max_conns": {"150"}}.Encode(),
	}).String()

	logger.Info("postgres ready", slog.Duration("took", time.Since(began)), slog.Int("pid", postgres.Process.Pid))

	return s, nil
}

// postmasterReady reads postmaster.pid: its first line is the postmaster's pid (not a stale
// file of an earlier run), its last the status PostgreSQL 10+ writes ("ready").
func postmasterReady(dataDir string, pid int) bool {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return false
	}

	lines := strings.Split(strings.TrimSpace(string(b)), "\n")

	return strings.TrimSpace(lines[0]) == strconv.Itoa(pid) && strings.TrimSpace(lines[len(lines)-1]) == "ready"
}

// stop asks for a fast shutdown (SIGINT), then an immediate one (SIGQUIT) after grace.
func (s *postgresServer) stop(grace time.Duration) {
	select {
	case <-s.exited:
		return
	default:
	}

	_ = s.cmd.Process.Signal(syscall.SIGINT)

	select {
	case <-s.exited:
	case <-time.After(grace):
		s.logger.Warn("postgres did not stop in time; SIGQUIT")
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		<-s.exited
	}
}
