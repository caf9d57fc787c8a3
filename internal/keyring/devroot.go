package keyring

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/candorcloud/candor/internal/seal"
)

// DevRootFile is the name of the development root key file in the data
// folder. Its presence means anyone who can read the folder can read every
// account's data: it exists only for `candor serve --dev`.
const DevRootFile = "DEV-ROOT-KEY-NOT-FOR-PRODUCTION"

// DevRoot returns the development root key kept at path, creating it (mode
// 0600) on first use. It is for --dev only: a production server never keeps
// its root key on disk.
func DevRoot(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := randomKey()
		if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write development root key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read development root key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != seal.KeySize {
		return nil, fmt.Errorf("development root key %s is damaged", path)
	}
	return key, nil
}
