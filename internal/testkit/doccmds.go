package testkit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A guide's copy-paste commands are code: DocRun runs them against a test
// server, so that a guide that drifts from the product fails a test.
//
// The commands are the Markdown fenced blocks whose info string starts with
// sh or bash. A block fenced "```sh no-test" is shown to readers but not run:
// one that sets what the test sets itself (the server's URL, a token).

// DocBlock is one shell block of a guide.
type DocBlock struct {
	Line   int // of the opening fence, 1-based
	Script string
}

// DocOutput is what one block printed.
type DocOutput struct {
	DocBlock
	Stdout, Stderr string
}

// ShellBlocks returns the shell blocks of the Markdown file at path, in
// order, without those marked no-test.
func ShellBlocks(path string) ([]DocBlock, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var (
		blocks []DocBlock
		cur    *DocBlock
		fence  string
		run    bool
		lines  []string
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			fence = trimmed[:len(trimmed)-len(strings.TrimLeft(trimmed, "`"))]
			info := strings.Fields(strings.TrimPrefix(trimmed, fence))
			run = len(info) > 0 && (info[0] == "sh" || info[0] == "bash") && !slices.Contains(info[1:], "no-test")
			cur, lines = &DocBlock{Line: n}, nil
		case cur != nil && strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, "`") == "":
			if run {
				cur.Script = strings.Join(lines, "\n") + "\n"
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: a fenced block is not closed", path, cur.Line)
	}
	return blocks, nil
}

// DocRun says how to run a guide.
type DocRun struct {
	// Env is added to the test's environment (KEY=value): what the guide
	// tells its reader to set, such as the server's URL and a token.
	Env []string
	// Tools are the commands the guide needs besides bash (curl, jq, ...).
	// Without one, the test is skipped, except on CI (CI=true), where it
	// fails.
	Tools []string
	// Dir is the working directory, where the guide may write files;
	// "": a new temporary directory.
	Dir string
	// Timeout bounds the whole guide; 0: 2 minutes.
	Timeout time.Duration
}

// Run runs the shell blocks of the guide at path in order, in one bash
// session as a reader pasting them into one terminal would (a variable one
// block sets is there for the next), under set -euo pipefail. It fails the
// test at the first block that fails, showing the block and its output, and
// otherwise returns every block's output for the test to check.
func (d DocRun) Run(t testing.TB, path string) []DocOutput {
	t.Helper()
	for _, tool := range append([]string{"bash"}, d.Tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s needs %s, which CI must install", path, tool)
			}
			t.Skipf("%s needs %s, which is not installed", path, tool)
		}
	}
	blocks, err := ShellBlocks(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no shell blocks", path)
	}
	dir := d.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	// Each block writes to its own files: the output of block i is
	// out.i and err.i, whatever it prints.
	outDir := t.TempDir()
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		fmt.Fprintf(&script, "exec >%s 2>%s\n%s", strconv.Quote(filepath.Join(outDir, fmt.Sprintf("out.%d", i))),
			strconv.Quote(filepath.Join(outDir, fmt.Sprintf("err.%d", i))), b.Script)
	}
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), d.Env...)
	runErr := cmd.Run()

	var outs []DocOutput
	for i, b := range blocks {
		stdout, err := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("out.%d", i)))
		if os.IsNotExist(err) {
			break // the session ended before this block
		}
		stderr, _ := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("err.%d", i)))
		outs = append(outs, DocOutput{DocBlock: b, Stdout: string(stdout), Stderr: string(stderr)})
	}
	if runErr != nil || len(outs) != len(blocks) {
		if len(outs) == 0 {
			t.Fatalf("%s: bash: %v", path, runErr)
		}
		last := outs[len(outs)-1]
		t.Fatalf("%s:%d: the block failed (%v):\n%s\n--- stdout:\n%s\n--- stderr:\n%s", path, last.Line, runErr,
			last.Script, last.Stdout, last.Stderr)
	}
	return outs
}
