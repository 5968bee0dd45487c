package testkit_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/tessera-iam/tessera/internal/testkit"
)

const guide = "# A guide\n\n" +
	"```sh no-test\nexport GREETING=hello   # the reader's own\n```\n\n" +
	"```sh\nNAME=$(echo world)\necho \"$GREETING\"\n```\n\n" +
	"```json\n{\"not\": \"run\"}\n```\n\n" +
	"- In a list:\n\n  ````bash\n  echo \"$NAME\" >&2\n  echo '```'\n  ````\n"

func TestDocRun(t *testing.T) {
	path := filepath.Join(t.TempDir(), "guide.md")
	if err := os.WriteFile(path, []byte(guide), 0o600); err != nil {
		t.Fatal(err)
	}
	blocks, err := testkit.ShellBlocks(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 || blocks[0].Line != 7 || blocks[1].Line != 18 {
		t.Fatalf("blocks %+v, want those of lines 7 and 18", blocks)
	}
	// The test sets what the no-test block shows; a variable of one block
	// reaches the next.
	outs := testkit.DocRun{Env: []string{"GREETING=hi"}}.Run(t, path)
	if outs[0].Stdout != "hi\n" || outs[1].Stderr != "world\n" || outs[1].Stdout != "```\n" {
		t.Errorf("outputs %+v", outs)
	}

	if err := os.WriteFile(path, []byte("```sh\necho\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := testkit.ShellBlocks(path); err == nil {
		t.Errorf("an unclosed block is not reported")
	}
}
