package ranges

import (
	"reflect"
	"testing"
)

func TestRanges(t *testing.T) {
	if got := Merge([][2]uint64{{5, 8}, {0, 2}, {2, 3}, {7, 9}}); !reflect.DeepEqual(got, [][2]uint64{{0, 3}, {5, 9}}) {
		t.Errorf("Merge = %v", got)
	}
	if got := Subtract([][2]uint64{{0, 10}, {20, 30}}, [][2]uint64{{2, 4}, {8, 22}, {25, 40}}); !reflect.DeepEqual(got, [][2]uint64{{0, 2}, {4, 8}, {22, 25}}) {
		t.Errorf("Subtract = %v", got)
	}
	if got := Intersect([][2]uint64{{0, 10}, {20, 30}}, [][2]uint64{{5, 25}}); !reflect.DeepEqual(got, [][2]uint64{{5, 10}, {20, 25}}) {
		t.Errorf("Intersect = %v", got)
	}
}
