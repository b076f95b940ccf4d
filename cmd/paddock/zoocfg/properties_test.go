package zoocfg

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadProperties(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []entry
	}{
		{"equals", "a=1\n", []entry{{"a", "1", 1}}},
		{"colon", "a: 1\n", []entry{{"a", "1", 1}}},
		{"whitespace separator", "a 1", []entry{{"a", "1", 1}}},
		{"whitespace around equals", "  a  =  1  \t\n", []entry{{"a", "1", 1}}},
		{"key alone", "a\n", []entry{{"a", "", 1}}},
		{"empty value", "a=\n", []entry{{"a", "", 1}}},
		{"second separator kept", "a==1", []entry{{"a", "=1", 1}}},
		{"colon in value", "server.1=h:2888:3888", []entry{{"server.1", "h:2888:3888", 1}}},
		{"comments and blanks", "# c\n! c\n\n   \n\t# indented\na=1\n", []entry{{"a", "1", 6}}},
		{"hash inside value", "a=1#2", []entry{{"a", "1#2", 1}}},
		{"crlf and cr", "a=1\r\nb=2\rc=3", []entry{{"a", "1", 1}, {"b", "2", 2}, {"c", "3", 3}}},
		{"continuation", "a=1,\\\n    2,\\\n\t3\nb=4", []entry{{"a", "1,2,3", 1}, {"b", "4", 4}}},
		{"continued line is not a comment", "a=1\\\n#2", []entry{{"a", "1#2", 1}}},
		{"comment does not continue", "# c \\\na=1", []entry{{"a", "1", 2}}},
		{"even backslashes do not continue", "a=x\\\\\nb=2", []entry{{"a", `x\`, 1}, {"b", "2", 2}}},
		{"continuation at end of file", "a=1\\", []entry{{"a", "1", 1}}},
		{"escaped separator in key", `a\=b\:c=1`, []entry{{"a=b:c", "1", 1}}},
		{"escaped space in key", `a\ b=1`, []entry{{"a b", "1", 1}}},
		{"escapes", `a=\t\u0041\q`, []entry{{"a", "Aq", 1}}}, // \t is trimmed
		{"windows path", `dataDir=C:\\zk\\data`, []entry{{"dataDir", `C:\zk\data`, 1}}},
		{"utf8 kept", "dataDir=/données", []entry{{"dataDir", "/données", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readProperties(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("readProperties(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestReadPropertiesBadEscape(t *testing.T) {
	for _, in := range []string{`a=\u12`, `a=\uzzzz`, "x=1\n\\u00g1=2"} {
		_, err := readProperties(in)
		if err == nil || !strings.Contains(err.Error(), `\uxxxx`) {
			t.Errorf("readProperties(%q) = %v, want a \\uxxxx error", in, err)
		}
	}
}
