// daemonkeys prints the top-level daemon.json keys dockerd reads: the JSON names of config.Config's fields,
// with embedded structs flattened the way dockerd's decoder flattens them. Keys that are only flag names
// (registry-mirror, host, ...) pass `dockerd --validate` but are never read; they are not listed.
package main

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/moby/moby/v2/daemon/config"
)

func collect(t reflect.Type, keys map[string]bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name := strings.Split(tag, ",")[0]
		if tag == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			collect(f.Type, keys)
			continue
		}
		if name != "" && f.IsExported() {
			keys[name] = true
		}
	}
}

func main() {
	keys := map[string]bool{}
	collect(reflect.TypeOf(config.Config{}), keys)
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		fmt.Println(k)
	}
}
