/*
 * pcap-read: the bare libpcap read loop, a floor for bench/run.sh.
 *
 * Reads every packet of a capture file with pcap_next_ex() and touches
 * nothing but the header: what any tool that reads the file through libpcap
 * pays before it looks at a packet. tcpdump -w /dev/null adds writing each
 * packet back; cat adds nothing but the read() calls.
 *
 *   cc -O2 -o pcap-read bench/pcap_read.c -lpcap
 *   pcap-read FILE        prints "PACKETS packets, BYTES captured bytes"
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: pcap-read FILE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "pcap-read: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    unsigned long long packets = 0, bytes = 0;
    int r;
    while ((r = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
    }
    if (r == PCAP_ERROR) {
        fprintf(stderr, "pcap-read: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    printf("%llu packets, %llu captured bytes\n", packets, bytes);
    pcap_close(p);
    return 0;
}
