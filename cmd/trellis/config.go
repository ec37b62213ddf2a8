package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"
	"go.yaml.in/yaml/v3"
)

// configFlag names the optional YAML file of a command's options.
const configFlag = "config"

// loadConfigFile fills every option not given on the command line or in
// the environment from the file --config names. Its keys are the flag names
// (addr, data, cors-origin, ...), so the file, the flags and the TRELLIS_*
// variables describe one configuration; the precedence is flag, then
// environment, then file, then default.
func loadConfigFile(ctx context.Context, cmd *cli.Command) (context.Context, error) {
	path := cmd.String(configFlag)
	if path == "" {
		return ctx, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return ctx, fmt.Errorf("config file: %w", err)
	}
	values := map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&values); err != nil && !errors.Is(err, io.EOF) {
		return ctx, fmt.Errorf("config file %s: %w", path, err)
	}
	known := flagNames(cmd)
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		if key == configFlag || !slices.Contains(known, key) {
			return ctx, fmt.Errorf("config file %s: unknown option %q; the options are: %s", path, key, strings.Join(known, ", "))
		}
		if cmd.IsSet(key) {
			continue
		}
		items, err := configValues(values[key])
		if err != nil {
			return ctx, fmt.Errorf("config file %s: %s: %w", path, key, err)
		}
		for _, v := range items {
			if err := cmd.Set(key, v); err != nil {
				return ctx, fmt.Errorf("config file %s: %s: %w", path, key, err)
			}
		}
	}
	return ctx, nil
}

// configValues turns a YAML value into the text a flag parses: a scalar is
// one value, a list one value per item.
func configValues(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, errors.New("has no value")
	case []any:
		out := make([]string, 0, len(v))
		for _, item := range v {
			one, err := configValues(item)
			if err != nil {
				return nil, err
			}
			if len(one) != 1 {
				return nil, errors.New("a list may hold only plain values")
			}
			out = append(out, one...)
		}
		return out, nil
	case map[string]any:
		return nil, errors.New("takes a plain value or a list, not a mapping")
	default:
		return []string{fmt.Sprint(v)}, nil
	}
}

func flagNames(cmd *cli.Command) []string {
	var names []string
	for _, f := range cmd.Flags {
		if n := f.Names(); len(n) > 0 && n[0] != configFlag && n[0] != "help" {
			names = append(names, n[0])
		}
	}
	slices.Sort(names)
	return names
}
