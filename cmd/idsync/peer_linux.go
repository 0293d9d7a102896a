package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer refuses a control connection from another user (root aside)
// and returns the peer's pid: the socket file is owner-only, and this also
// covers a peer that connected before its mode was set.
func checkPeer(conn *net.UnixConn) (int, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, fmt.Errorf("peer credentials: %w", cerr)
	}
	if uid := int(cred.Uid); uid != os.Getuid() && uid != 0 {
		return int(cred.Pid), fmt.Errorf("pid %d runs as uid %d, not as the daemon's uid %d", cred.Pid, uid, os.Getuid())
	}
	return int(cred.Pid), nil
}
