// A Queue between two producers and two consumers, with a sentinel per
// consumer, as with Python's multiprocessing.Queue. Every message arrives
// exactly once: the consumers' totals add up to what the producers sent.
#include <iostream>
#include <mpshm/mpshm.hpp>
#include <vector>

namespace mp = mpshm;

void produce(mp::Queue<int>& queue, int first, int count) {
    for (int i = first; i < first + count; ++i) queue.put(i);
}

void consume(mp::Queue<int>& queue, mp::Value<long>& total, mp::Value<int>& received) {
    for (;;) {
        const int item = queue.get();
        if (item < 0) return;  // the sentinel
        total += item;
        received += 1;
    }
}

int main() {
    mp::freeze_support();
    mp::Queue<int> queue(64);
    mp::Value<long> total(0);
    mp::Value<int> received(0);

    std::vector<mp::Process> consumers;
    for (int c = 0; c < 2; ++c) consumers.emplace_back(consume, queue, total, received);
    for (auto& c : consumers) c.start();

    mp::Process first(produce, queue, 1, 5000);
    mp::Process second(produce, queue, 5001, 5000);
    first.start();
    second.start();
    first.join();
    second.join();
    for (std::size_t c = 0; c < consumers.size(); ++c) queue.put(-1);
    for (auto& c : consumers) c.join();

    std::cout << "received " << received << " messages, total " << total << " (expected "
              << 10000L * 10001L / 2 << ")\n";
}
