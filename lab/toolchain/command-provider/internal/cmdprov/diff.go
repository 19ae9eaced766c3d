package cmdprov

import (
	"slices"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// replaceKeys are the inputs whose change means "run create again" rather than "run update": the
// official provider tags triggers with replaceOnChanges. The SDK also sends replaceOnChanges
// triggers[*], but reporting it here keeps previews right for programs that bypass the SDK.
var replaceKeys = map[resource.PropertyKey]bool{"triggers": true}

// diffInputs compares the old state with the new checked inputs, top-level property by property.
func diffInputs(typ string, olds, news resource.PropertyMap, ignoreChanges []string) *pulumirpc.DiffResponse {
	resp := &pulumirpc.DiffResponse{
		Changes:         pulumirpc.DiffResponse_DIFF_NONE,
		DetailedDiff:    map[string]*pulumirpc.PropertyDiff{},
		HasDetailedDiff: true,
	}
	for _, k := range inputKeys[typ] {
		if slices.Contains(ignoreChanges, string(k)) {
			continue
		}
		oldV, hasOld := olds[k]
		hasOld = hasOld && !oldV.IsNull()
		newV, hasNew := news[k]
		hasNew = hasNew && !newV.IsNull()

		var kind pulumirpc.PropertyDiff_Kind
		switch {
		case !hasOld && !hasNew:
			continue
		case !hasOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !hasNew:
			kind = pulumirpc.PropertyDiff_DELETE
		case newV.ContainsUnknowns() || !oldV.DeepEquals(newV):
			kind = pulumirpc.PropertyDiff_UPDATE
		default:
			continue
		}
		if replaceKeys[k] {
			kind = asReplace(kind)
			resp.Replaces = append(resp.Replaces, string(k))
		}
		resp.Diffs = append(resp.Diffs, string(k))
		resp.DetailedDiff[string(k)] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp
}

func asReplace(k pulumirpc.PropertyDiff_Kind) pulumirpc.PropertyDiff_Kind {
	switch k {
	case pulumirpc.PropertyDiff_ADD:
		return pulumirpc.PropertyDiff_ADD_REPLACE
	case pulumirpc.PropertyDiff_DELETE:
		return pulumirpc.PropertyDiff_DELETE_REPLACE
	default:
		return pulumirpc.PropertyDiff_UPDATE_REPLACE
	}
}
