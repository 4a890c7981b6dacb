package controlplane

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ErrNoSetpriv says why the control plane cannot be tied to its starter.
var ErrNoSetpriv = errors.New("setpriv (util-linux) is not on PATH: it makes etcd and kube-apiserver die with the process " +
	"that started them, so a test that times out or panics leaves no control plane behind; install util-linux")

// DieWithStarter makes env's etcd and kube-apiserver receive SIGKILL when the
// process that starts them dies, however it dies (a go test -timeout, a
// panic, SIGKILL): envtest starts them in their own process group and stops
// them only from Stop, which such a death never reaches. It points env at
// small wrappers (in a folder under the system's temporary directory, the
// same for the same assets) that exec the real binaries under `setpriv
// --pdeathsig KILL`; the processes keep their names and pids. It fails with
// ErrNoSetpriv when setpriv is missing. Linux's parent-death signal follows
// the thread that forked: Go's runtime keeps its threads, so this holds for
// envtest's starts.
func DieWithStarter(env *envtest.Environment, assets string) error {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return ErrNoSetpriv
	}
	sum := sha256.Sum256([]byte(assets + "\x00" + setpriv))
	dir := filepath.Join(os.TempDir(), "org-operator-envtest-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	paths := map[string]string{}
	for _, name := range []string{"etcd", "kube-apiserver"} {
		wrapper := filepath.Join(dir, name)
		script := fmt.Sprintf("#!/bin/sh\nexec %q --pdeathsig KILL -- %q \"$@\"\n", setpriv, filepath.Join(assets, name))
		if err := writeAtomically(wrapper, []byte(script)); err != nil {
			return fmt.Errorf("wrapper for %s: %w", name, err)
		}
		paths[name] = wrapper
	}
	if env.ControlPlane.Etcd == nil {
		env.ControlPlane.Etcd = &envtest.Etcd{}
	}
	env.ControlPlane.Etcd.Path = paths["etcd"]
	env.ControlPlane.GetAPIServer().Path = paths["kube-apiserver"]
	return nil
}

// writeAtomically writes an executable file by rename, so that a process
// starting the wrapper never sees it half written.
func writeAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".wrapper-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	if err := errors.Join(werr, tmp.Chmod(0o700), tmp.Close()); err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return os.Rename(tmp.Name(), path)
}
