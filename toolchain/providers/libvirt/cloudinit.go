// The cloud-init disk without the provider's read-back download.
//
// terraform-provider-libvirt 0.8.3 creates a libvirt_cloudinit_disk by uploading the ISO and then reading it back:
// its Create ends with its Read, which downloads the whole ISO through a libvirt stream
// (libvirt/resource_libvirt_cloud_init.go, cloudinit_def.go downloadISO), and a refresh downloads it again. In
// go-libvirt's stream code that download can end early: a goroutine dump of a provider stuck in the e2e/engine
// tiers (sixth session) showed the downloader returned from processIncomingStream and waiting to deregister its
// serial, while the connection's reader held the same lock to hand it one more stream packet on an unbuffered
// channel (go-libvirt rpc.go callback and requestStream): every call on that connection then hangs, the temporary
// ISO at 0 bytes. When the late packet comes after the deregistration instead, the download is empty and Create
// fails with "error while retrieving remote ISO: ... corrupted-image: EOF". Seen over qemu+ssh and a local socket.
//
// So this plugin keeps the resource (type, schema, ID `<volume key>;<uuid>`, the domain's `cloudinit` reference, the
// state of every existing lab) and replaces two of its functions: Create makes the ISO as the provider does
// (mkisofs, volume id cidata, Joliet and Rock Ridge, the three files) and uploads it on a connection of its own,
// then keeps its inputs as its state; Read asks libvirt whether the volume still exists. Nothing downloads. Delete
// stays the provider's (a lookup and a delete).
package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	golibvirt "github.com/digitalocean/go-libvirt"
	"github.com/dmacvicar/terraform-provider-libvirt/libvirt/uri"
	"github.com/google/uuid"
	"github.com/hashicorp/terraform-plugin-sdk/v2/diag"
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
)

// The URI each configured provider instance connects to, by the meta value its configure returned.
var configuredURIs sync.Map

// withCloudInitWithoutReadBack rewires the provider: its configure records the URI, the cloud-init disk gets
// createCloudInit and readCloudInit.
func withCloudInitWithoutReadBack(p *schema.Provider) *schema.Provider {
	configure := p.ConfigureFunc
	p.ConfigureFunc = func(d *schema.ResourceData) (interface{}, error) {
		meta, err := configure(d)
		if err == nil && meta != nil {
			configuredURIs.Store(meta, d.Get("uri").(string))
		}
		return meta, err
	}
	disk := p.ResourcesMap["libvirt_cloudinit_disk"]
	disk.CreateContext = createCloudInit
	disk.ReadContext = readCloudInit
	return p
}

// connect opens a connection of this resource's own to the provider's libvirt; the caller disconnects.
func connect(meta interface{}) (*golibvirt.Libvirt, error) {
	value, ok := configuredURIs.Load(meta)
	if !ok {
		return nil, errors.New("the libvirt provider was not configured")
	}
	u, err := uri.Parse(value.(string))
	if err != nil {
		return nil, err
	}
	l := golibvirt.NewWithDialer(u)
	if err := l.ConnectToURI(golibvirt.ConnectURI(u.RemoteName())); err != nil {
		return nil, fmt.Errorf("failed to connect: %w", err)
	}
	return l, nil
}

// makeISO writes the NoCloud ISO (volume id cidata) of the three files into a new temporary directory.
func makeISO(d *schema.ResourceData) (string, func(), error) {
	dir, err := os.MkdirTemp("", "cloudinit")
	if err != nil {
		return "", func() {}, err
	}
	cleanup := func() { _ = os.RemoveAll(dir) }
	files := []string{}
	for _, f := range []struct{ name, key string }{
		{"user-data", "user_data"}, {"meta-data", "meta_data"}, {"network-config", "network_config"},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, []byte(d.Get(f.key).(string)), 0o600); err != nil {
			return "", cleanup, err
		}
		files = append(files, path)
	}
	iso := filepath.Join(dir, "cidata.iso")
	args := append([]string{"-output", iso, "-volid", "cidata", "-joliet", "-rock"}, files...)
	if out, err := exec.Command("mkisofs", args...).CombinedOutput(); err != nil {
		return "", cleanup, fmt.Errorf("mkisofs: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return iso, cleanup, nil
}

type volumeXML struct {
	XMLName  xml.Name `xml:"volume"`
	Name     string   `xml:"name"`
	Capacity struct {
		Unit  string `xml:"unit,attr"`
		Value int64  `xml:",chardata"`
	} `xml:"capacity"`
	Format struct {
		Type string `xml:"type,attr"`
	} `xml:"target>format"`
}

var poolLocks sync.Map

func poolLock(name string) *sync.Mutex {
	lock, _ := poolLocks.LoadOrStore(name, &sync.Mutex{})
	return lock.(*sync.Mutex)
}

// refreshPool refreshes the pool, trying again for at most poolRefreshTimeout while libvirt says jobs run on it.
func refreshPool(l *golibvirt.Libvirt, pool golibvirt.StoragePool) error {
	deadline := time.Now().Add(poolRefreshTimeout)
	for {
		err := l.StoragePoolRefresh(pool, 0)
		if err == nil || !strings.Contains(err.Error(), "asynchronous jobs running") {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w (still after %s)", err, poolRefreshTimeout)
		}
		time.Sleep(time.Second)
	}
}

const poolRefreshTimeout = 5 * time.Minute

func createCloudInit(_ context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	iso, cleanup, err := makeISO(d)
	defer cleanup()
	if err != nil {
		return diag.Errorf("error while creating the cloud-init ISO: %s", err)
	}
	content, err := os.ReadFile(iso)
	if err != nil {
		return diag.FromErr(err)
	}
	l, err := connect(meta)
	if err != nil {
		return diag.FromErr(err)
	}
	defer func() { _ = l.Disconnect() }()
	name, poolName := d.Get("name").(string), d.Get("pool").(string)
	pool, err := l.StoragePoolLookupByName(poolName)
	if err != nil {
		return diag.Errorf("can't find storage pool '%s': %s", poolName, err)
	}
	// libvirt must know the pool's current files (a volume of that name removed by hand is then gone). One create
	// at a time per pool in this plugin; the provider's own volume jobs may still run on its connection, and libvirt
	// refuses a refresh meanwhile ("has asynchronous jobs running"): tried again, as the provider does, bounded.
	lock := poolLock(poolName)
	lock.Lock()
	defer lock.Unlock()
	if err := refreshPool(l, pool); err != nil {
		return diag.Errorf("error refreshing pool %s: %s", poolName, err)
	}
	def := volumeXML{Name: name}
	def.Capacity.Unit, def.Capacity.Value, def.Format.Type = "B", int64(len(content)), "raw"
	definition, err := xml.Marshal(def)
	if err != nil {
		return diag.FromErr(err)
	}
	volume, err := l.StorageVolCreateXML(pool, string(definition), 0)
	if err != nil {
		return diag.Errorf("error creating libvirt volume for cloudinit device %s: %s", name, err)
	}
	if err := l.StorageVolUpload(volume, bytes.NewReader(content), 0, uint64(len(content)), 0); err != nil {
		_ = l.StorageVolDelete(volume, 0)
		return diag.Errorf("error while uploading cloudinit %s: %s", name, err)
	}
	if volume.Key == "" {
		return diag.Errorf("error retrieving the key of volume %s", name)
	}
	d.SetId(fmt.Sprintf("%s;%s", volume.Key, uuid.New()))
	return nil
}

func readCloudInit(_ context.Context, d *schema.ResourceData, meta interface{}) diag.Diagnostics {
	key, _, found := strings.Cut(d.Id(), ";")
	if !found {
		return diag.Errorf("%s is not a valid key", d.Id())
	}
	l, err := connect(meta)
	if err != nil {
		return diag.FromErr(err)
	}
	defer func() { _ = l.Disconnect() }()
	if _, err := l.StorageVolLookupByKey(key); err != nil {
		var lerr golibvirt.Error
		if errors.As(err, &lerr) && lerr.Code == uint32(golibvirt.ErrNoStorageVol) {
			d.SetId("")
			return nil
		}
		return diag.Errorf("can't retrieve volume %s: %s", key, err)
	}
	return nil
}
