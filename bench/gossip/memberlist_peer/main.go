// memberlist_peer: one HashiCorp memberlist member with the same command line
// and output as bench/gossip's gossip_node, so bench/gossip/run.py drives both.
//
// Built in GOPATH mode against Debian's golang-github-hashicorp-memberlist-dev
// (/usr/share/gocode), nothing downloaded:
//
//	GOPATH=$tmp:/usr/share/gocode GO111MODULE=off go build -o memberlist_peer .
//
// Output (wall-clock ms first):
//
//	<ms> member-join <name> <ip:port>
//	<ms> member-failed <name> <ip:port>   (memberlist's NotifyLeave: failed or left)
//	<ms> member-update <name> <ip:port>
//	<ms> join-done contacted=N failed=M <error>
//	<ms> stats bytes_out=B bytes_in=B packets_out=P packets_in=P members=M alive=A rss_kb=K
//	<ms> left
//
// Bytes are counted at the Transport interface (datagrams and stream bytes
// written and read), as gossip_node counts what its core sends and receives.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io/ioutil"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

var out = bufio.NewWriter(os.Stdout)
var outCh = make(chan string, 4096)

func nowMs() int64 { return time.Now().UnixNano() / int64(time.Millisecond) }

func emit(format string, args ...interface{}) {
	outCh <- fmt.Sprintf("%d ", nowMs()) + fmt.Sprintf(format, args...) + "\n"
}

func writer() {
	for line := range outCh {
		out.WriteString(line)
		out.Flush()
	}
}

// ---- a Transport that counts what goes through it ----

type counting struct {
	memberlist.Transport
	bytesOut, bytesIn, pktsOut, pktsIn uint64
	packetCh                           chan *memberlist.Packet
	streamCh                           chan net.Conn
}

type countingConn struct {
	net.Conn
	t *counting
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	atomic.AddUint64(&c.t.bytesOut, uint64(n))
	return n, err
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	atomic.AddUint64(&c.t.bytesIn, uint64(n))
	return n, err
}

func newCounting(inner memberlist.Transport) *counting {
	t := &counting{Transport: inner, packetCh: make(chan *memberlist.Packet),
		streamCh: make(chan net.Conn)}
	go func() {
		for p := range inner.PacketCh() {
			atomic.AddUint64(&t.bytesIn, uint64(len(p.Buf)))
			atomic.AddUint64(&t.pktsIn, 1)
			t.packetCh <- p
		}
	}()
	go func() {
		for c := range inner.StreamCh() {
			atomic.AddUint64(&t.pktsIn, 1)
			t.streamCh <- &countingConn{Conn: c, t: t}
		}
	}()
	return t
}

func (t *counting) WriteTo(b []byte, addr string) (time.Time, error) {
	atomic.AddUint64(&t.bytesOut, uint64(len(b)))
	atomic.AddUint64(&t.pktsOut, 1)
	return t.Transport.WriteTo(b, addr)
}

func (t *counting) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := t.Transport.DialTimeout(addr, timeout)
	if err != nil {
		return nil, err
	}
	atomic.AddUint64(&t.pktsOut, 1)
	return &countingConn{Conn: c, t: t}, nil
}

func (t *counting) PacketCh() <-chan *memberlist.Packet { return t.packetCh }
func (t *counting) StreamCh() <-chan net.Conn          { return t.streamCh }

// ---- events ----

type events struct{}

func (events) NotifyJoin(n *memberlist.Node)   { emit("member-join %s %s", n.Name, n.Address()) }
func (events) NotifyLeave(n *memberlist.Node)  { emit("member-failed %s %s", n.Name, n.Address()) }
func (events) NotifyUpdate(n *memberlist.Node) { emit("member-update %s %s", n.Name, n.Address()) }

func rssKB() int64 {
	b, err := ioutil.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.ParseInt(f[1], 10, 64)
				return v
			}
		}
	}
	return -1
}

type joins []string

func (j *joins) String() string     { return strings.Join(*j, ",") }
func (j *joins) Set(v string) error { *j = append(*j, v); return nil }

func main() {
	name := flag.String("name", "", "node name")
	bind := flag.String("bind", "", "ip:port")
	profile := flag.String("profile", "lan", "lan|wan|local")
	statsMs := flag.Int("stats-ms", 0, "print stats every N ms")
	flag.Bool("no-coords", false, "accepted for gossip_node compatibility")
	var joinAddrs joins
	flag.Var(&joinAddrs, "join", "address to join (repeat)")
	flag.Parse()
	go writer()

	host, portStr, err := net.SplitHostPort(*bind)
	if err != nil || *name == "" {
		fmt.Fprintln(os.Stderr, "usage: memberlist_peer --name N --bind IP:PORT [--join ADDR]...")
		os.Exit(2)
	}
	port, _ := strconv.Atoi(portStr)

	var cfg *memberlist.Config
	switch *profile {
	case "wan":
		cfg = memberlist.DefaultWANConfig()
	case "local":
		cfg = memberlist.DefaultLocalConfig()
	default:
		cfg = memberlist.DefaultLANConfig()
	}
	cfg.Name = *name
	cfg.BindAddr = host
	cfg.BindPort = port
	cfg.AdvertiseAddr = host
	cfg.AdvertisePort = port
	cfg.Events = events{}
	cfg.LogOutput = ioutil.Discard
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{host}, BindPort: port,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "transport:", err)
		os.Exit(1)
	}
	ct := newCounting(nt)
	cfg.Transport = ct

	ml, err := memberlist.Create(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "create:", err)
		os.Exit(1)
	}
	stats := func() {
		n := ml.NumMembers()
		emit("stats bytes_out=%d bytes_in=%d packets_out=%d packets_in=%d members=%d alive=%d rss_kb=%d",
			atomic.LoadUint64(&ct.bytesOut), atomic.LoadUint64(&ct.bytesIn),
			atomic.LoadUint64(&ct.pktsOut), atomic.LoadUint64(&ct.pktsIn), n, n, rssKB())
	}
	if len(joinAddrs) > 0 {
		go func() {
			n, err := ml.Join(joinAddrs)
			msg := ""
			if err != nil {
				msg = err.Error()
			}
			emit("join-done contacted=%d failed=%d %s", n, len(joinAddrs)-n, msg)
		}()
	}
	if *statsMs > 0 {
		go func() {
			for range time.Tick(time.Duration(*statsMs) * time.Millisecond) {
				stats()
			}
		}()
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	for s := range sig {
		switch s {
		case syscall.SIGUSR1:
			stats()
		case syscall.SIGTERM:
			ml.Leave(5 * time.Second)
			emit("left")
			stats()
			ml.Shutdown()
			time.Sleep(100 * time.Millisecond)
			os.Exit(0)
		default:
			stats()
			time.Sleep(100 * time.Millisecond)
			os.Exit(0)
		}
	}
}
