// Command kubia is the seed's demo app: an HTTP server on port 8080 that answers
// every request with "You've hit <hostname>". Skiff's tests build it into the
// image docker.io/luksa/kubia:latest (pkg/images.BuildDemo).
//
// Environment knobs reproduce the seed's variants and the behaviours the node
// agent's tests need:
//
//	KUBIA_UNHEALTHY_AFTER=N   answer 500 after the Nth request (kubia-unhealthy)
//	KUBIA_READY_AFTER=3s      /ready answers 503 until 3s after start
//	KUBIA_EXIT_AFTER=2s       exit after 2s with KUBIA_EXIT_CODE (default 1)
//	KUBIA_CRASH_ONCE=/d/f     exit 1 at start unless the file exists (it creates it)
//	KUBIA_TERM_DELAY=1s       on SIGTERM, wait this long before exiting
//	KUBIA_SIGNAL_FILE=/d/f    on SIGTERM or SIGINT, also append the log line to this file
//	KUBIA_ALLOCATE_MB=200     allocate and touch this much memory at start (OOM tests)
//
// Subcommands for sidecars and exec probes: `kubia get URL` prints the body and
// exits 0 on a 2xx answer; `kubia poll URL` prints "hostname=H got=BODY" every
// second; `kubia hostname` prints the hostname; `kubia env` the environment;
// `kubia cat FILE...` the files; `kubia fstype DIR` the file system's type
// (tmpfs or other); `kubia stat PATH...` each path's mode, owner and group;
// `kubia write FILE TEXT` writes a file; `kubia symlink TARGET LINK` makes a link;
// `kubia lookup NAME [A|SRV|CNAME|PTR]` prints what the pod's resolver answers.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// lookup prints what the pod's resolver (its resolv.conf, search path and
// ndots included) answers for name, one record a line.
func lookup(name, kind string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	var out []string
	var err error
	switch strings.ToUpper(kind) {
	case "A":
		out, err = r.LookupHost(ctx, name)
	case "CNAME":
		var c string
		c, err = r.LookupCNAME(ctx, name)
		out = []string{c}
	case "PTR":
		out, err = r.LookupAddr(ctx, name)
	case "SRV":
		var srvs []*net.SRV
		_, srvs, err = r.LookupSRV(ctx, "", "", name)
		for _, s := range srvs {
			out = append(out, fmt.Sprintf("%s %d", s.Target, s.Port))
		}
	default:
		fmt.Fprintln(os.Stderr, "kubia lookup: type A, SRV, CNAME or PTR")
		return 2
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, o := range out {
		fmt.Println(o)
	}
	return 0
}

func main() {
	if len(os.Args) > 1 {
		os.Exit(subcommand(os.Args[1], os.Args[2:]))
	}
	os.Exit(serve())
}

func subcommand(cmd string, args []string) int {
	switch cmd {
	case "hostname":
		h, _ := os.Hostname()
		fmt.Println(h)
		return 0
	case "env":
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		return 0
	case "cat":
		for _, f := range args {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			os.Stdout.Write(b)
		}
		return 0
	case "fstype":
		var st syscall.Statfs_t
		if len(args) != 1 || syscall.Statfs(args[0], &st) != nil {
			fmt.Fprintln(os.Stderr, "usage: kubia fstype DIR")
			return 1
		}
		if st.Type == 0x01021994 {
			fmt.Println("tmpfs")
		} else {
			fmt.Printf("other(0x%x)\n", st.Type)
		}
		return 0
	case "stat":
		for _, f := range args {
			var st syscall.Stat_t
			if err := syscall.Stat(f, &st); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			info, _ := os.Stat(f)
			fmt.Printf("%s %s %d %d\n", f, info.Mode(), st.Uid, st.Gid)
		}
		return 0
	case "write":
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "usage: kubia write FILE TEXT")
			return 2
		}
		if err := os.WriteFile(args[0], []byte(args[1]), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "symlink":
		if len(args) != 2 {
			fmt.Fprintln(os.Stderr, "usage: kubia symlink TARGET LINK")
			return 2
		}
		if err := os.Symlink(args[0], args[1]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return 0
	case "get":
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: kubia get URL")
			return 2
		}
		body, code, err := get(args[0])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Print(body)
		if code < 200 || code > 299 {
			return 1
		}
		return 0
	case "lookup":
		if len(args) < 1 || len(args) > 2 {
			fmt.Fprintln(os.Stderr, "usage: kubia lookup NAME [A|SRV|CNAME|PTR]")
			return 2
		}
		return lookup(args[0], append(args[1:], "A")[0])
	case "poll":
		if len(args) != 1 {
			fmt.Fprintln(os.Stderr, "usage: kubia poll URL")
			return 2
		}
		h, _ := os.Hostname()
		for {
			body, _, err := get(args[0])
			if err != nil {
				body = "error: " + err.Error()
			}
			fmt.Printf("hostname=%s got=%s\n", h, strings.TrimSpace(body))
			time.Sleep(time.Second)
		}
	default:
		fmt.Fprintf(os.Stderr, "kubia: unknown command %q\n", cmd)
		return 2
	}
}

func get(url string) (string, int, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

func serve() int {
	start := time.Now()
	if marker := os.Getenv("KUBIA_CRASH_ONCE"); marker != "" {
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, []byte("crashed\n"), 0o644)
			fmt.Println("Kubia crashing once, as asked")
			return 1
		}
	}
	fmt.Println("Kubia server starting...")
	if mb, err := strconv.Atoi(os.Getenv("KUBIA_ALLOCATE_MB")); err == nil && mb > 0 {
		hog := make([]byte, mb<<20)
		for i := 0; i < len(hog); i += 4096 {
			hog[i] = 1
		}
		fmt.Printf("Kubia allocated %d MiB\n", len(hog)>>20)
	}
	hostname, _ := os.Hostname()
	unhealthyAfter, _ := strconv.Atoi(os.Getenv("KUBIA_UNHEALTHY_AFTER"))
	readyAfter, _ := time.ParseDuration(os.Getenv("KUBIA_READY_AFTER"))
	var requests atomic.Int64

	mux := http.NewServeMux()
	mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < readyAfter {
			http.Error(w, "not ready yet", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		fmt.Println("Received request from " + r.RemoteAddr)
		if unhealthyAfter > 0 && n > int64(unhealthyAfter) {
			http.Error(w, "I'm not well. Please restart me!", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "You've hit %s\n", hostname)
	})
	srv := &http.Server{Addr: ":8080", Handler: mux}

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	exitCode := make(chan int, 1)
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			fmt.Println("listening:", err)
			exitCode <- 1
		}
	}()
	if d, err := time.ParseDuration(os.Getenv("KUBIA_EXIT_AFTER")); err == nil {
		code := 1
		if c, err := strconv.Atoi(os.Getenv("KUBIA_EXIT_CODE")); err == nil {
			code = c
		}
		time.AfterFunc(d, func() {
			fmt.Printf("Kubia exiting with code %d, as asked\n", code)
			exitCode <- code
		})
	}
	select {
	case code := <-exitCode:
		return code
	case sig := <-signals:
		line := fmt.Sprintf("Received %s, shutting down\n", sigName(sig))
		fmt.Print(line)
		if p := os.Getenv("KUBIA_SIGNAL_FILE"); p != "" {
			if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
				f.WriteString(line)
				f.Close()
			}
		}
		if d, err := time.ParseDuration(os.Getenv("KUBIA_TERM_DELAY")); err == nil {
			time.Sleep(d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		return 0
	}
}

func sigName(s os.Signal) string {
	if s == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}
