"""One GET through a proxy from a chosen source address, run inside the tier's namespace (packagessupport.Namespace):
prints the HTTP status. Usage: python3 proxy_get.py URL PROXY_HOST:PORT SOURCE_ADDRESS"""
import http.client
import sys

url, proxy, source = sys.argv[1:4]
host, _, port = proxy.rpartition(":")
conn = http.client.HTTPConnection(host, int(port), timeout=20, source_address=(source, 0))
conn.request("GET", url)
print(conn.getresponse().status)
